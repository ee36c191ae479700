"""The HTTP side: a QuartTrio app with one blueprint per resource.

Routes use storage and the hub's inbox through Services, never sessions. The
WebSocket (/socket.io) is not a Quart route: the front door hands upgrades to
api/socket.py before hypercorn sees them. Every
refusal, whatever raised it, leaves as the JSON envelope with a truthful status.
"""

from __future__ import annotations

import logging

from quart import Response
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException

from chat_trio.api import files, friends, groups, messages, users, web
from chat_trio.api.common import EXTENSION_KEY, failure
from chat_trio.errors import ProtocolError, StorageError
from chat_trio.services import Services

log = logging.getLogger(__name__)

#: Room for the multipart wrapping around an upload of the largest allowed size.
MULTIPART_OVERHEAD = 64 * 1024


def create_app(services: Services) -> QuartTrio:
    app = QuartTrio("chat_trio")
    app.extensions[EXTENSION_KEY] = services
    app.config["MAX_CONTENT_LENGTH"] = services.config.limits.max_upload_bytes + MULTIPART_OVERHEAD
    app.config["JSON_SORT_KEYS"] = False
    for module in (users, friends, groups, messages, files, web):
        app.register_blueprint(module.blueprint)

    @app.errorhandler(ProtocolError)
    async def refused(error: ProtocolError) -> Response:
        return failure(error.code, error.reason)

    @app.errorhandler(StorageError)
    async def storage_failed(error: StorageError) -> Response:
        log.error("storage error: %s", error)
        return failure(503, "the database is not available; try again")

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        reason = {
            404: "no such route",
            405: "method not allowed",
            413: "request body too large",
        }.get(status, error.name)
        return failure(status, reason)

    @app.errorhandler(Exception)
    async def crashed(error: Exception) -> Response:
        log.exception("unhandled error in a request", exc_info=error)
        return failure(500, "internal error")

    return app
