"""Browser-facing defenses: the Origin allow-list, CORS, and security headers.

A browser sends cookies with a cross-site WebSocket handshake, so without an
Origin check any web page could open /socket.io as its visitor (cross-site
WebSocket hijacking). A handshake is accepted when it has no Origin (not a
browser), when its Origin is this server itself, or when it is on
``[server] allowedOrigins``. CORS answers only those listed origins, never ``*``.

The same rule guards every state-changing HTTP request (POST, PUT, PATCH,
DELETE), login included (cross-site request forgery). ``SameSite=Lax`` alone
does not cover it: a page on another port of the same host is "same site", so
its forms carry the cookie, and a forged login needs no cookie at all. When a
browser sends no Origin, ``Sec-Fetch-Site`` decides (only ``same-origin`` and
``none``, a request the user made themself, pass); a request with neither
header did not come from a browser page and is let through.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from quart import Quart, Response, request

from chat_trio.config import Config
from chat_trio.errors import ProtocolError

#: Methods that change something, and so must come from a page of ours.
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

#: ``Sec-Fetch-Site`` values that mean "not another origin's page".
_FETCH_SITES_ALLOWED = frozenset({"same-origin", "none"})

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _authority(netloc: str, scheme: str) -> tuple[str, int] | None:
    """(host, port) of ``netloc`` with the scheme's default port filled in, or None."""
    try:
        parts = urlsplit(f"//{netloc}")
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return parts.hostname, _DEFAULT_PORTS[scheme] if port is None else port


def origin_allowed(origin: str, host: str, allowed: tuple[str, ...]) -> bool:
    """May a browser page from ``origin`` talk to this server, reached as ``host``?"""
    if not origin:
        return True  # not sent by a browser: nothing to protect with it
    if origin in allowed:
        return True
    parts = urlsplit(origin)
    if parts.scheme not in _DEFAULT_PORTS or not host:
        return False
    mine = _authority(host, parts.scheme)
    return mine is not None and _authority(parts.netloc, parts.scheme) == mine


def check_request_origin(host: str, allowed: tuple[str, ...]) -> None:
    """Refuse a state-changing request that a page of another origin sent.

    Raises: ProtocolError 403.
    """
    if request.method not in STATE_CHANGING:
        return
    origin = request.headers.get("Origin")
    if origin is not None:
        if not origin_allowed(origin, host, allowed):
            raise ProtocolError(
                403,
                f"cross-origin request refused: {origin} is neither this server "
                "nor listed in [server] allowedOrigins",
            )
        return
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site.lower() not in _FETCH_SITES_ALLOWED:
        raise ProtocolError(
            403, f"cross-origin request refused: the browser says it came from a {site} page"
        )


def content_security_policy(host: str) -> str:
    """What the web client needs and nothing more: its own scripts, the socket, media."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            # Ant Design injects its styles at run time.
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "media-src 'self' data: blob:",
            f"connect-src 'self' ws://{host} wss://{host}",
            "font-src 'self' data:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def install(app: Quart, config: Config) -> None:
    allowed = config.server.allowed_origins

    @app.before_request
    async def same_origin_only() -> None:
        check_request_origin(request.host, allowed)

    @app.after_request
    async def headers(response: Response) -> Response:
        h = response.headers
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "no-referrer")
        h.setdefault("X-Frame-Options", "DENY")
        if response.mimetype == "text/html":
            h["Content-Security-Policy"] = content_security_policy(request.host)
        origin = request.headers.get("Origin", "")
        if origin and origin in allowed:
            h["Access-Control-Allow-Origin"] = origin
            h["Access-Control-Allow-Credentials"] = "true"
            h["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
            h["Access-Control-Allow-Methods"] = "GET, POST, PUT, OPTIONS"
            h.add("Vary", "Origin")
        return response
