"""The browser client (built into web/dist) and the settings it reads at start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from quart import Blueprint, Response, send_from_directory

from chat_trio.api.common import ok, services
from chat_trio.errors import ProtocolError

blueprint = Blueprint("web", __name__)

#: The built client inside a checkout (``pip install -e .`` keeps it there).
DEFAULT_WEB_ROOT = Path(__file__).resolve().parents[2] / "web" / "dist"

_NOT_BUILT = (
    "<!doctype html><title>chat-trio</title><p>The web client is not built here: "
    "run <code>npm --prefix web ci && npm --prefix web run build</code>.</p>"
)


def web_root() -> Path:
    configured = services().config.server.web_root
    return Path(configured) if configured else DEFAULT_WEB_ROOT


async def _index() -> Response:
    root = web_root()
    if not (root / "index.html").is_file():
        return Response(_NOT_BUILT, status=200, mimetype="text/html")
    response = await send_from_directory(root, "index.html")
    response.headers["Cache-Control"] = "no-cache"
    return response


@blueprint.get("/")
@blueprint.get("/login")
@blueprint.get("/register")
@blueprint.get("/panel")
@blueprint.get("/panel/<path:_rest>")
async def index(_rest: str = "") -> Response:
    return await _index()


@blueprint.get("/assets/<path:name>")
async def assets(name: str) -> Response:
    root = web_root() / "assets"
    try:
        response = await send_from_directory(root, name)
    except Exception:
        raise ProtocolError(404, "no such file") from None
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


@blueprint.get("/favicon.svg")
async def favicon() -> Response:
    try:
        return await send_from_directory(web_root(), "favicon.svg")
    except Exception:
        raise ProtocolError(404, "no such file") from None


@blueprint.get("/client-config")
async def client_config() -> Response:
    config = services().config
    ice: list[dict[str, Any]] = []
    if config.webrtc.ice_servers:
        server: dict[str, Any] = {"urls": list(config.webrtc.ice_servers)}
        if config.webrtc.turn_username:
            server["username"] = config.webrtc.turn_username
            server["credential"] = config.webrtc.turn_credential
        ice.append(server)
    return ok(
        {
            "iceServers": ice,
            "heartbeatSeconds": 10,
            "maxUploadBytes": config.limits.max_upload_bytes,
            "appName": config.app_name,
        }
    )
