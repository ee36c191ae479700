"""Browser-facing defenses: the Origin allow-list, CORS, and security headers.

A browser sends cookies with a cross-site WebSocket handshake, so without an
Origin check any web page could open /socket.io as its visitor (cross-site
WebSocket hijacking). A handshake is accepted when it has no Origin (not a
browser), when its Origin is this server itself, or when it is on
``[server] allowedOrigins``. CORS answers only those listed origins, never ``*``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from quart import Quart, Response, request

from chat_trio.config import Config


def origin_allowed(origin: str, host: str, allowed: tuple[str, ...]) -> bool:
    """May a browser page from ``origin`` talk to this server, reached as ``host``?"""
    if not origin:
        return True  # not sent by a browser: nothing to protect with it
    if origin in allowed:
        return True
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


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
