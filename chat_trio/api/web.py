"""The browser client and the settings it reads at start.

Any file under ``[server] webRoot`` is served at its path, so the folder can be
chat-trio's own build (``web/dist``: ``/assets/...``) or another client's
production build, such as go-chat's React client (``/static/js/...``,
``/favicon.ico``, ``/manifest.json`` at the root). A GET for a path that is
neither a route nor a file gets ``index.html`` when the browser asks for a page
(``Accept: text/html``) and the path is not under an API prefix: single-page
clients route in the browser, so a reload of ``/panel/x`` must find the page.

What is served is only ever a regular file inside the root: no ``..``, no
dotfiles or dot-folders (``.git``, ``.env``, ``.source-hash``), no symbolic link
that leads outside. The file system is touched in a worker thread, never on
the event loop.
"""

from __future__ import annotations

import datetime as dt
import mimetypes
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Required, TypedDict

import trio
from quart import Blueprint, Response, current_app, request

from chat_trio.api.common import ok, services
from chat_trio.errors import ProtocolError

blueprint = Blueprint("web", __name__)

#: The built client inside a checkout (``pip install -e .`` keeps it there).
DEFAULT_WEB_ROOT = Path(__file__).resolve().parents[2] / "web" / "dist"

#: Folders whose file names carry a content hash (Vite's and create-react-app's
#: builds), so a browser may keep them for good.
IMMUTABLE_FOLDERS = ("assets/", "static/")

#: First path segments that are never a page of the client, besides the routes'.
_NOT_PAGES = frozenset({"socket.io"})

#: Types that ``mimetypes`` does not know everywhere.
_TYPES = {".webmanifest": "application/manifest+json", ".map": "application/json"}

_NOT_BUILT = (
    "<!doctype html><title>chat-trio</title><p>The web client is not built here: "
    "run <code>npm --prefix web ci && npm --prefix web run build</code>.</p>"
)


def web_root() -> Path:
    configured = services().config.server.web_root
    return Path(configured) if configured else DEFAULT_WEB_ROOT


@dataclass(frozen=True)
class StaticFile:
    data: bytes
    mtime: float


def safe_relative(name: str) -> str | None:
    """``name`` when every segment of it is an ordinary, visible name, else None.

    Refuses ``..``, empty segments, dotfiles, backslashes and NUL, so nothing
    outside the root and nothing hidden inside it can be named.
    """
    if not name or "\\" in name or "\0" in name:
        return None
    segments = name.split("/")
    if any(not s or s.startswith(".") for s in segments):
        return None
    return name


def read_static(root: Path, name: str) -> StaticFile | None:
    """The regular file ``root/name``, or None; blocking, so run in a worker thread."""
    relative = safe_relative(name)
    if relative is None:
        return None
    try:
        base = root.resolve(strict=True)
        path = (base / relative).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not path.is_relative_to(base) or not path.is_file():
        return None  # a symbolic link out of the root, or a folder
    try:
        with path.open("rb") as f:
            return StaticFile(f.read(), os.fstat(f.fileno()).st_mtime)
    except OSError:
        return None


async def _file_response(name: str, static: StaticFile, cache_control: str) -> Response:
    suffix = Path(name).suffix.lower()
    mimetype = _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = Response(static.data, mimetype=mimetype)
    response.headers["Cache-Control"] = cache_control
    response.set_etag(f"{static.mtime}-{len(static.data)}")
    response.last_modified = dt.datetime.fromtimestamp(static.mtime, tz=dt.UTC)
    await response.make_conditional(request)
    return response


async def _static(name: str) -> StaticFile | None:
    return await trio.to_thread.run_sync(read_static, web_root(), name)


async def _index() -> Response:
    found = await _static("index.html")
    if found is None:
        return Response(_NOT_BUILT, status=200, mimetype="text/html")
    return await _file_response("index.html", found, "no-cache")


@cache
def _route_prefixes(rules: tuple[str, ...]) -> frozenset[str]:
    firsts = {r.split("/")[1] for r in rules if r.count("/") >= 1}
    return frozenset(f for f in firsts if f and not f.startswith("<")) | _NOT_PAGES


def _api_prefixes() -> frozenset[str]:
    """The first path segments of every route outside this blueprint."""
    rules = current_app.url_map.iter_rules()
    return _route_prefixes(tuple(sorted(r.rule for r in rules if r.endpoint[:4] != "web.")))


def _wants_page(name: str) -> bool:
    """Is this a browser asking for a page of the single-page client?"""
    accept = request.accept_mimetypes
    if not any(mimetype == "text/html" for mimetype, _ in accept):
        return False  # API clients send */* or application/json
    return name.split("/", 1)[0] not in _api_prefixes()


@blueprint.get("/")
@blueprint.get("/login")
@blueprint.get("/register")
@blueprint.get("/panel")
@blueprint.get("/panel/<path:_rest>")
async def index(_rest: str = "") -> Response:
    return await _index()


@blueprint.get("/<path:name>")
async def static_file(name: str) -> Response:
    """A file of the web root, or the client's page for a path it routes itself."""
    if safe_relative(name) is None:
        raise ProtocolError(404, "no such file")
    found = await _static(name)
    if found is not None:
        immutable = name.startswith(IMMUTABLE_FOLDERS)
        cache_control = "public, max-age=31536000, immutable" if immutable else "no-cache"
        return await _file_response(name, found, cache_control)
    if _wants_page(name):
        return await _index()
    raise ProtocolError(404, "no such route")


class IceServer(TypedDict, total=False):
    """One entry of ``iceServers``, as ``RTCPeerConnection`` takes it."""

    urls: Required[list[str]]
    username: str
    credential: str


@blueprint.get("/client-config")
async def client_config() -> Response:
    config = services().config
    ice: list[IceServer] = []
    if config.webrtc.ice_servers:
        server: IceServer = {"urls": list(config.webrtc.ice_servers)}
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
