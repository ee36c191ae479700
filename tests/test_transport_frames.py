"""RFC 6455 framing and the handshake head, sans-I/O: no sockets, no clock."""

from __future__ import annotations

import os
import struct
import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chat_trio.transport import frames, handshake
from chat_trio.transport.frames import FrameError, FrameReader, Received


def client_frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0) -> bytes:
    """A masked frame as a client sends it."""
    n = len(payload)
    b0 = (0x80 if fin else 0) | rsv | opcode
    if n < 126:
        header = bytes((b0, 0x80 | n))
    elif n < 65536:
        header = bytes((b0, 0x80 | 126)) + struct.pack("!H", n)
    else:
        header = bytes((b0, 0x80 | 127)) + struct.pack("!Q", n)
    mask = os.urandom(4)
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def parse_server_frames(data: bytes) -> list[tuple[int, bytes]]:
    """Split unmasked server frames; fails on a cut frame."""
    out = []
    pos = 0
    while pos < len(data):
        b0, b1 = data[pos], data[pos + 1]
        assert b0 & 0x80 and not b1 & 0x80  # final, unmasked
        n = b1 & 0x7F
        pos += 2
        if n == 126:
            n = struct.unpack_from("!H", data, pos)[0]
            pos += 2
        elif n == 127:
            n = struct.unpack_from("!Q", data, pos)[0]
            pos += 8
        assert pos + n <= len(data), "frame cut short"
        out.append((b0 & 0x0F, data[pos : pos + n]))
        pos += n
    return out


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 200_000])
def test_server_frames_round_trip(size: int) -> None:
    payload = os.urandom(size)
    assert parse_server_frames(frames.frame(frames.OP_BINARY, payload)) == [
        (frames.OP_BINARY, payload)
    ]


def test_binary_frame_is_made_once_per_payload_object() -> None:
    payload = b"x" * 300
    cache = frames.FrameCache()
    first = cache.binary_frame(payload)
    assert cache.binary_frame(payload) is first
    other = bytes(bytearray(payload))  # equal bytes, another object
    assert cache.binary_frame(other) is not first
    assert cache.binary_frame(other) == first
    assert frames.FrameCache().binary_frame(payload) is not first  # each cache its own


def test_close_frame_reason_is_cut_on_a_character_boundary() -> None:
    [(opcode, body)] = parse_server_frames(frames.close_frame(1013, "é" * 100))
    assert opcode == frames.OP_CLOSE and len(body) <= 125
    assert frames.parse_close(body) == (1013, "é" * 61)


@pytest.mark.parametrize("size", [0, 5, 126, 70_000])
def test_reader_unmasks_any_size_fed_byte_by_byte(size: int) -> None:
    payload = os.urandom(size)
    data = client_frame(frames.OP_BINARY, payload)
    reader = FrameReader(1 << 20)
    for i in range(len(data) - 1):
        reader.feed(data[i : i + 1])
        if size > 1000 and i > 20:  # feed the rest of a big one at once
            reader.feed(data[i + 1 : -1])
            break
        assert reader.next() is None
    reader.feed(data[-1:])
    assert reader.next() == Received(frames.OP_BINARY, payload)
    assert reader.next() is None


def test_fragments_are_joined_around_a_control_frame() -> None:
    reader = FrameReader(1000)
    reader.feed(
        client_frame(frames.OP_TEXT, "héllo ".encode()[:2], fin=False)
        + client_frame(frames.OP_PING, b"p")
        + client_frame(frames.OP_CONTINUATION, "héllo ".encode()[2:], fin=False)
        + client_frame(frames.OP_CONTINUATION, b"world")
        + client_frame(frames.OP_BINARY, b"\x00")
    )
    assert reader.next() == Received(frames.OP_PING, b"p")
    assert reader.next() == Received(frames.OP_TEXT, "héllo world".encode())
    assert reader.next() == Received(frames.OP_BINARY, b"\x00")


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (client_frame(frames.OP_BINARY, b"x", rsv=0x40), 1002),
        (bytes((0x82, 0x01)) + b"x", 1002),  # not masked
        (client_frame(0x3, b"x"), 1002),  # reserved opcode
        (client_frame(frames.OP_CONTINUATION, b"x"), 1002),  # nothing to continue
        (client_frame(frames.OP_TEXT, b"a", fin=False) + client_frame(frames.OP_TEXT, b"b"), 1002),
        (client_frame(frames.OP_PING, b"x" * 126), 1002),
        (client_frame(frames.OP_PING, b"x", fin=False), 1002),
        (client_frame(frames.OP_TEXT, b"\xff\xfe"), 1007),
        (client_frame(frames.OP_BINARY, b"x" * 101), 1009),
        (client_frame(frames.OP_BINARY, b"x" * 60, fin=False)
         + client_frame(frames.OP_CONTINUATION, b"x" * 41), 1009),
    ],
)
def test_protocol_violations_name_their_close_code(data: bytes, code: int) -> None:
    reader = FrameReader(100)
    reader.feed(data)
    with pytest.raises(FrameError) as error:
        read_all(reader)
    assert error.value.code == code


def read_all(reader: FrameReader) -> list[Received]:
    items = []
    while (item := reader.next()) is not None:
        items.append(item)
    return items


def test_oversized_message_is_refused_from_its_header_alone() -> None:
    reader = FrameReader(1000)
    reader.feed(client_frame(frames.OP_BINARY, b"x" * 5000)[:20])
    with pytest.raises(FrameError) as error:
        reader.next()
    assert error.value.code == 1009


def test_unmask_runs_in_c() -> None:
    assert frames.FAST_UNMASK  # websockets is a dependency: its C module is there


@given(data=st.binary(max_size=5000), mask=st.binary(min_size=4, max_size=4))
def test_c_and_python_unmask_agree(data: bytes, mask: bytes) -> None:
    expected = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    assert frames.unmask(data, mask) == expected
    assert frames.unmask_python(data, mask) == expected
    view = memoryview(bytearray(b"..." + data))[3:]  # what FrameReader hands it
    assert frames.unmask(view, mask) == frames.unmask_python(view, mask) == expected


def fragments(pieces: list[bytes], opcode: int = frames.OP_BINARY) -> bytes:
    """One message in ``len(pieces)`` frames."""
    out = b""
    for i, piece in enumerate(pieces):
        out += client_frame(
            opcode if i == 0 else frames.OP_CONTINUATION, piece, fin=i == len(pieces) - 1
        )
    return out


def test_a_message_may_have_max_fragments_and_no_more() -> None:
    reader = FrameReader(1000, max_fragments=4)
    reader.feed(fragments([b"a", b"", b"b", b"c"]))
    assert read_all(reader) == [Received(frames.OP_BINARY, b"abc")]
    reader.feed(fragments([b"a", b"", b"b", b"c", b"d"])[:40])
    with pytest.raises(FrameError) as error:
        read_all(reader)
    assert error.value.code == 1009 and "fragments" in error.value.reason


def test_endless_empty_fragments_are_refused() -> None:
    """Empty fragments never reach the size limit; the fragment limit stops them."""
    reader = FrameReader(1000)
    reader.feed(client_frame(frames.OP_BINARY, b"", fin=False))
    empty = client_frame(frames.OP_CONTINUATION, b"", fin=False)
    with pytest.raises(FrameError) as error:  # noqa: PT012  # raised by the fragment past the limit
        for _ in range(frames.DEFAULT_MAX_FRAGMENTS + 1):
            reader.feed(empty)
            assert reader.next() is None
    assert error.value.code == 1009


def test_fragments_cost_their_bytes_not_an_object_each() -> None:
    """20,000 one-byte fragments hold about 20 kB, not 20,000 objects of 50 bytes."""
    count = 20_000
    reader = FrameReader(1 << 20, max_fragments=count + 2)
    wire = [client_frame(frames.OP_CONTINUATION, b"x", fin=False) for _ in range(count)]
    reader.feed(client_frame(frames.OP_BINARY, b"x", fin=False))
    assert reader.next() is None
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for piece in wire:
            reader.feed(piece)
            assert reader.next() is None
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 4 * count, held
    reader.feed(client_frame(frames.OP_CONTINUATION, b"!"))
    assert reader.next() == Received(frames.OP_BINARY, b"x" * (count + 1) + b"!")


def test_room_bounds_what_the_reader_holds() -> None:
    """Fed only ``room`` bytes at a time, the reader never holds more than one message,
    a header and a control frame, and always has a frame to hand out when full."""
    limit = 1000
    reader = FrameReader(limit)
    cap = limit + frames.MAX_HEADER + frames.MAX_CONTROL_FRAME
    assert reader.room == cap
    wire = (
        client_frame(frames.OP_TEXT, b"a" * 400, fin=False)
        + client_frame(frames.OP_CONTINUATION, b"b" * 300, fin=False)
        + client_frame(frames.OP_PING, b"p" * 125)  # between fragments, near the limit
        + client_frame(frames.OP_CONTINUATION, b"c" * 300)
        + client_frame(frames.OP_BINARY, b"d" * limit)
        + client_frame(frames.OP_BINARY, b"e" * limit)
    )
    got: list[Received] = []
    while True:
        while (item := reader.next()) is not None:
            got.append(item)
        if not wire:
            break
        room = reader.room
        assert room > 0  # an incomplete frame always has room to arrive in
        reader.feed(wire[:room])
        wire = wire[room:]
        assert reader.buffered + len(reader._message) <= cap
    assert [(r.opcode, len(r.payload)) for r in got] == [
        (frames.OP_PING, 125), (frames.OP_TEXT, 1000), (frames.OP_BINARY, limit),
        (frames.OP_BINARY, limit),
    ]


@pytest.mark.parametrize(
    ("body", "result"),
    [
        (b"", (1005, "")),
        (struct.pack("!H", 1000) + b"bye", (1000, "bye")),
        (struct.pack("!H", 4000), (4000, "")),
    ],
)
def test_parse_close(body: bytes, result: tuple[int, str]) -> None:
    assert frames.parse_close(body) == result


@pytest.mark.parametrize("body", [b"\x03", struct.pack("!H", 1005), struct.pack("!H", 999)])
def test_bad_close_bodies(body: bytes) -> None:
    with pytest.raises(FrameError):
        frames.parse_close(body)


HEAD = (
    b"GET /socket.io?user=u1&token=t%201 HTTP/1.1\r\n"
    b"Host: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    b"Cookie: a=1\r\nCookie: b=2"
)


def test_handshake_head_and_accept_key() -> None:
    request = handshake.parse_head(HEAD)
    assert (request.method, request.path) == ("GET", "/socket.io")
    assert (request.arg("user"), request.arg("token"), request.arg("nope")) == ("u1", "t 1", "")
    assert request.header("cookie") == "a=1; b=2"
    assert request.wants_websocket and handshake.upgrade_problem(request) == ""
    # The example of RFC 6455 section 1.3.
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in (
        handshake.accept_response(request)
    )


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (b"GET ", b"POST ", "GET"),
        (b"keep-alive, Upgrade", b"keep-alive", "Connection"),
        (b"Version: 13", b"Version: 8", "Version"),
        (b"dGhlIHNhbXBsZSBub25jZQ==", b"short", "Key"),
    ],
)
def test_bad_handshakes_are_named(old: bytes, new: bytes, problem: str) -> None:
    assert problem in handshake.upgrade_problem(handshake.parse_head(HEAD.replace(old, new)))


@pytest.mark.parametrize("head", [b"nonsense", b"GET / HTTP/2\r\n", b"GET / HTTP/1.1\r\nNoColon"])
def test_unparsable_heads(head: bytes) -> None:
    with pytest.raises(handshake.BadRequest):
        handshake.parse_head(head)


def test_refusal_carries_the_json_envelope() -> None:
    answer = handshake.refusal_response(403, "no", ("X-A: b",))
    head, body = answer.split(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 403 Forbidden\r\n") and b"X-A: b" in head
    assert body == b'{"code": -1, "msg": "no", "data": null}'
    assert f"Content-Length: {len(body)}".encode() in head
