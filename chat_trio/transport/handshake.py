"""The HTTP/1.1 request head, sans-I/O: parse it, and answer a WebSocket upgrade.

The front door reads every request head a connection sends (transport/http1.py
finds where each one starts) and decides from it whether the request is a
WebSocket upgrade it serves itself or HTTP it hands to hypercorn. This module
parses a head and writes the two kinds of answers the WebSocket side needs:
``101 Switching Protocols`` and a refusal with a JSON body.

Header lists are read as RFC 7230 section 7 says: comma-separated tokens,
optional whitespace around them, compared case-insensitively. So
``Connection: keep-alive, Upgrade`` asks for an upgrade and
``Connection: noupgrade`` does not; ``Upgrade: websocket2`` is not a WebSocket.
A handshake must be HTTP/1.1 with one Host header (RFC 6455 section 4.1).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

#: RFC 6455 section 1.3: appended to the client's key before hashing.
_WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

#: The most bytes of request head read before the connection is routed.
MAX_HEAD_BYTES = 16 * 1024


class BadRequest(Exception):
    """The request head cannot be parsed."""


@dataclass(frozen=True, slots=True)
class RequestHead:
    method: str
    target: str
    #: "HTTP/1.1" or "HTTP/1.0".
    version: str
    path: str
    query: dict[str, list[str]]
    #: Header names lower-cased; repeated headers joined with ", " (cookies with "; ").
    headers: dict[str, str]

    def header(self, name: str) -> str:
        return self.headers.get(name, "")

    def tokens(self, name: str) -> list[str]:
        """A header's comma-separated tokens, lower-cased, without empty elements."""
        parts = (part.strip(" \t").lower() for part in self.header(name).split(","))
        return [t for t in parts if t]

    def arg(self, name: str) -> str:
        values = self.query.get(name)
        return values[0] if values else ""

    @property
    def wants_websocket(self) -> bool:
        """An ``Upgrade: websocket`` request (whether it is a valid one is checked later)."""
        return "websocket" in self.tokens("upgrade")


def parse_head(head: bytes) -> RequestHead:
    """Parse a request head (request line and headers, without the blank line).

    Raises:
        BadRequest: not an HTTP/1.x request head.
    """
    try:
        text = head.decode("latin-1")
        request_line, *lines = text.split("\r\n")
        method, target, version = request_line.split(" ")
    except ValueError:
        raise BadRequest("bad request line") from None
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise BadRequest("not HTTP/1.x")
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip() or "\n" in line or "\r" in line:
            raise BadRequest("bad header line")
        key = name.lower()
        value = value.strip()
        if key in headers:
            joiner = "; " if key == "cookie" else ", "
            headers[key] = headers[key] + joiner + value
        else:
            headers[key] = value
    parts = urlsplit(target)
    return RequestHead(
        method=method,
        target=target,
        version=version,
        path=parts.path,
        query=parse_qs(parts.query, keep_blank_values=True),
        headers=headers,
    )


def upgrade_problem(request: RequestHead) -> str:
    """Why ``request`` is not a valid WebSocket opening handshake, or "" if it is."""
    if request.method != "GET":
        return "a WebSocket handshake must be a GET"
    if request.version != "HTTP/1.1":
        return "a WebSocket handshake must be HTTP/1.1"
    host = request.header("host")
    if not host or "," in host:
        return "a WebSocket handshake needs exactly one Host header"
    if "websocket" not in request.tokens("upgrade"):
        return "missing Upgrade: websocket"
    if "upgrade" not in request.tokens("connection"):
        return "missing Connection: Upgrade"
    if request.header("sec-websocket-version") != "13":
        return "unsupported Sec-WebSocket-Version (13 is supported)"
    try:
        key = base64.b64decode(request.header("sec-websocket-key"), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 16:
        return "missing or bad Sec-WebSocket-Key"
    return ""


def accept_response(request: RequestHead) -> bytes:
    """The ``101 Switching Protocols`` answer to a valid handshake."""
    digest = hashlib.sha1(request.header("sec-websocket-key").encode("ascii") + _WS_GUID)
    accept = base64.b64encode(digest.digest()).decode("ascii")
    return (
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
    ).encode("ascii")


def refusal_response(status: int, reason: str, extra_headers: tuple[str, ...] = ()) -> bytes:
    """An HTTP answer with the JSON envelope ``{"code": -1, "msg": reason, "data": null}``."""
    body = json.dumps({"code": -1, "msg": reason, "data": None}).encode("utf-8")
    phrase = HTTPStatus(status).phrase
    head = [
        f"HTTP/1.1 {status} {phrase}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *extra_headers,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
