"""The request splitter, sans-I/O: where requests end, and when it stops following."""

from __future__ import annotations

import pytest

from chat_trio.transport.handshake import MAX_HEAD_BYTES, RequestHead
from chat_trio.transport.http1 import RequestSplitter

UPGRADE = (
    b"GET /socket.io HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
)
FRAMES = b"\x81\x85\x00\x00\x00\x00hello"


def wants(request: RequestHead) -> bool:
    return request.path == "/socket.io" and request.wants_websocket


def run(stream: bytes, step: int | None = None) -> tuple[bytes, RequestHead | None, bytes]:
    """Feed ``stream`` whole or ``step`` bytes at a time; what hypercorn got, the upgrade
    found, and the bytes after it."""
    splitter = RequestSplitter(wants)
    forwarded = b""
    pieces = [stream] if step is None else [
        stream[i : i + step] for i in range(0, len(stream), step)
    ]
    for i, piece in enumerate(pieces):
        forward, upgrade, rest = splitter.feed(piece)
        forwarded += forward
        if upgrade is not None:
            return forwarded, upgrade, rest + b"".join(pieces[i + 1 :])
    return forwarded, None, b""


def with_body(body: bytes, *headers: bytes) -> bytes:
    return b"POST /up HTTP/1.1\r\nHost: x\r\n" + b"".join(h + b"\r\n" for h in headers) + (
        b"\r\n" + body
    )


CHUNKED = with_body(
    b"4;name=v\r\n" + UPGRADE[:4] + b"\r\n" + b"%x\r\n" % len(UPGRADE) + UPGRADE + b"\r\n"
    b"0\r\nTrailer: " + UPGRADE[:10] + b"\r\n\r\n",
    b"Transfer-Encoding: chunked",
)
FOLLOWED = [
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    with_body(UPGRADE, b"Content-Length: %d" % len(UPGRADE)),
    with_body(b"", b"Content-Length: 0"),
    CHUNKED,
    with_body(b"", b"transfer-encoding:  Chunked ") + b"0\r\n\r\n",
]


@pytest.mark.parametrize("step", [None, 1, 7])
def test_requests_pass_whole_and_the_upgrade_after_them_is_found(step: int | None) -> None:
    """Bodies that hold what looks like an upgrade are bodies; the real one after
    them is found, however the bytes are cut."""
    before = b"".join(FOLLOWED)
    forwarded, upgrade, rest = run(before + UPGRADE + FRAMES, step)
    assert forwarded == before
    assert upgrade is not None and upgrade.path == "/socket.io"
    assert rest == FRAMES


def test_a_first_upgrade_forwards_nothing() -> None:
    assert run(UPGRADE + FRAMES)[::2] == (b"", FRAMES)


def test_an_incomplete_head_is_held_back() -> None:
    splitter = RequestSplitter(wants)
    assert splitter.feed(FOLLOWED[0] + UPGRADE[:20]) == (FOLLOWED[0], None, b"")
    assert splitter.holding and not splitter.between_requests
    assert splitter.flush() == UPGRADE[:20]


@pytest.mark.parametrize(
    "odd",
    [
        with_body(b"", b"Transfer-Encoding: gzip, chunked"),
        with_body(b"", b"Transfer-Encoding: chunked", b"Content-Length: 3"),
        with_body(b"", b"Content-Length: 5", b"Content-Length: 5"),
        with_body(b"", b"Content-Length: +5"),
        with_body(b"", b"Content-Length: \xd9\xa5"),  # an Arabic-Indic five
        with_body(b"zz\r\n", b"Transfer-Encoding: chunked"),  # not a chunk size
        b"GET / HTTP/1.1\nHost: x\r\n\r\n",  # a bare LF
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
        b"NONSENSE\r\n\r\n",
        b"GET / HTTP/1.1\r\nX: " + b"a" * MAX_HEAD_BYTES,
    ],
)
def test_anything_unusual_stops_the_following(odd: bytes) -> None:
    """From there on hypercorn gets every byte and judges it: an upgrade that comes
    after is not routed, so no boundary is seen where hypercorn's parser sees none."""
    splitter = RequestSplitter(wants)
    forward, upgrade, _ = splitter.feed(odd)
    assert forward == odd and upgrade is None and not splitter.following
    assert splitter.feed(UPGRADE) == (UPGRADE, None, b"")


def test_a_plain_head_is_not_parsed() -> None:
    """No body and no Upgrade: the head is not parsed (HTTP pays per request, little)."""
    seen: list[RequestHead] = []

    def spy(request: RequestHead) -> bool:
        seen.append(request)
        return False

    splitter = RequestSplitter(spy)
    splitter.feed(FOLLOWED[0] * 3)
    assert seen == [] and splitter.between_requests
    splitter.feed(FOLLOWED[1])
    assert len(seen) == 1
