"""The HTTP side: a QuartTrio app with one blueprint per resource.

Routes use storage and the hub's inbox through Services, never sessions. The
WebSocket (/socket.io) is not a Quart route: the front door hands upgrades to
api/socket.py before hypercorn sees them. Every
refusal, whatever raised it, leaves as the JSON envelope with a truthful status;
with ``[server] legacyErrorStatus`` the status is 200 instead, as go-chat sent
it, because go-chat's client reads the envelope of 2xx answers only.
"""

from __future__ import annotations

import logging

from quart import Response, request
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException

from chat_trio.api import (
    blocks,
    conversations,
    files,
    friends,
    groups,
    message_search,
    messages,
    openapi,
    ops,
    presence,
    search,
    security,
    users,
    web,
)
from chat_trio.api.common import EXTENSION_KEY, failure
from chat_trio.errors import ProtocolError, StorageError, key_for_status
from chat_trio.services import Services

__all__ = ["create_app"]

log = logging.getLogger(__name__)

#: Room for the multipart wrapping around an upload of the largest allowed size.
MULTIPART_OVERHEAD = 64 * 1024


def _refusal(
    status: int, reason: str, *, legacy: bool = False, key: str | None = None
) -> Response:
    """The envelope for a refused request (status 200 when ``legacy``).

    A request refused before its body was read leaves that body on the
    connection, where it would be taken for the next request and stall it, so
    a refused request that carried a body also closes its connection.
    """
    response = failure(200 if legacy else status, reason, key or key_for_status(status))
    has_body = bool(request.content_length) or "chunked" in request.headers.get(
        "Transfer-Encoding", ""
    )
    if has_body:
        response.headers["Connection"] = "close"
    return response


#: Every blueprint of the app, in registration order.
BLUEPRINTS = tuple(
    m.blueprint
    for m in (
        users, friends, blocks, search, groups, messages, message_search, conversations,
        files, presence, web, ops, openapi,
    )
)


def create_app(services: Services) -> QuartTrio:
    # No Quart static folder: its /static/ route would hide the web root's static/
    # (where go-chat's client keeps its scripts); api/web.py serves the web root.
    app = QuartTrio("chat_trio", static_folder=None)
    app.extensions[EXTENSION_KEY] = services
    app.config["MAX_CONTENT_LENGTH"] = services.config.limits.max_upload_bytes + MULTIPART_OVERHEAD
    app.config["JSON_SORT_KEYS"] = False
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    security.install(app, services.config)
    app.after_request(ops.count_request)
    legacy = services.config.server.legacy_error_status

    @app.errorhandler(ProtocolError)
    async def refused(error: ProtocolError) -> Response:
        response = _refusal(error.code, error.reason, legacy=legacy, key=error.key)
        if error.retry_after is not None:
            response.headers["Retry-After"] = str(int(error.retry_after))
        return response

    @app.errorhandler(StorageError)
    async def storage_failed(error: StorageError) -> Response:
        log.error("storage error: %s", error)
        return _refusal(503, "the database is not available; try again", legacy=legacy)

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        reason = {
            404: "no such route",
            405: "method not allowed",
            413: "request body too large",
        }.get(status, error.name)
        return _refusal(status, reason, legacy=legacy)

    # The net under a bug in a route: no request reaches it unless a route is
    # broken, so no test can send one without planting a broken route.
    @app.errorhandler(Exception)
    async def crashed(error: Exception) -> Response:  # pragma: no cover
        log.exception("unhandled error in a request", exc_info=error)
        return _refusal(500, "internal error", legacy=legacy)

    return app
