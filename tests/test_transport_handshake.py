"""The WebSocket handshake head, sans-I/O: header lists read as RFC 7230 tokens."""

from __future__ import annotations

import pytest

from chat_trio.transport import handshake

GOOD = (
    b"GET /socket.io HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13"
)


def test_tokens_are_comma_separated_trimmed_and_lower_cased() -> None:
    request = handshake.parse_head(b"GET / HTTP/1.1\r\nConnection: keep-alive ,\tUPGRADE,,")
    assert request.tokens("connection") == ["keep-alive", "upgrade"]
    assert request.tokens("missing") == []


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (b"Connection: Upgrade", b"Connection: noupgrade", "Connection"),
        (b"Connection: Upgrade", b"Connection: upgrade-insecure", "Connection"),
        (b"Upgrade: websocket", b"Upgrade: websocket2", "Upgrade"),
        (b"Host: x\r\n", b"", "Host"),
        (b"Host: x\r\n", b"Host: x\r\nHost: y\r\n", "Host"),
        (b"HTTP/1.1", b"HTTP/1.0", "HTTP/1.1"),
    ],
)
def test_near_misses_are_refused(old: bytes, new: bytes, problem: str) -> None:
    request = handshake.parse_head(GOOD.replace(old, new))
    reason = handshake.upgrade_problem(request)
    assert problem in reason
    assert "Version" not in reason  # api/socket.py answers 426 only for the WebSocket version


def test_lists_and_case_are_accepted() -> None:
    head = GOOD.replace(b"Connection: Upgrade", b"Connection: keep-alive, Upgrade").replace(
        b"Upgrade: websocket", b"Upgrade: WebSocket"
    )
    request = handshake.parse_head(head)
    assert request.wants_websocket and handshake.upgrade_problem(request) == ""
    assert request.version == "HTTP/1.1"
