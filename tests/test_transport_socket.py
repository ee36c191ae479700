"""The WebSocket's direct-write path and its backlog, over a real socket pair.

The server end is a ``WebSocket``; the client end is a plain non-blocking
socket read by hand, so each test sees the exact bytes on the wire. Small
socket buffers make the kernel refuse or cut writes, which is how the backlog
and partial writes are reached. Each test is bounded by ``trio.fail_after``
(a hang guard, not a speed check).
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import pytest
import trio

from chat_trio.transport import frames
from chat_trio.transport.websocket import TransportClosed, WebSocket
from tests.test_transport_frames import client_frame, parse_server_frames


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    server, client = socket.socketpair()
    for s in (server, client):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.setblocking(False)
    yield server, client
    client.close()
    if server.fileno() >= 0:
        server.close()


def open_ws(
    server: socket.socket,
    backlog: int = 1000,
    max_message: int = 1 << 20,
    backlog_bytes: int = 1 << 30,
    frame_cache: frames.FrameCache | None = None,
) -> WebSocket:
    return WebSocket(
        server, max_message_bytes=max_message, max_backlog_frames=backlog,
        max_backlog_bytes=backlog_bytes, frame_cache=frame_cache or frames.FrameCache(),
    )


async def read_all(client: socket.socket, *, until_eof: bool = True) -> bytes:
    """Read what the client end gets (until end of stream, or until it would block)."""
    data = bytearray()
    while True:
        try:
            chunk = client.recv(1 << 16)
        except BlockingIOError:
            if not until_eof:
                return bytes(data)
            await trio.lowlevel.wait_readable(client)
            continue
        if not chunk:
            return bytes(data)
        data += chunk


def payloads(n: int) -> list[bytes]:
    """Distinct payloads of mixed sizes (some larger than the socket buffers)."""
    sizes = [10, 3000, 126, 70_000, 1]
    return [bytes([i % 251]) * sizes[i % len(sizes)] + struct.pack("!I", i) for i in range(n)]


async def test_direct_write_needs_no_writer_task(pair: tuple[socket.socket, socket.socket]) -> None:
    server, client = pair
    ws = open_ws(server)
    ws.send_nowait(b"hello")
    ws.send_nowait(b"again")
    assert ws.backlog_frames == 0
    got = parse_server_frames(await read_all(client, until_eof=False))
    assert got == [(frames.OP_BINARY, b"hello"), (frames.OP_BINARY, b"again")]
    client.shutdown(socket.SHUT_WR)  # the client leaves: closing need not wait for it
    with trio.fail_after(5):
        await ws.aclose()


async def test_the_writer_hook_fires_once_and_only_when_a_frame_has_to_wait(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """A client that keeps up needs no writer task: the session starts one from the hook."""
    server, client = pair
    ws = open_ws(server)
    calls: list[int] = []
    ws.set_writer_hook(lambda: calls.append(ws.backlog_frames))
    ws.send_nowait(b"small")
    assert calls == []  # written directly: no work for a writer
    for p in payloads(20):
        ws.send_nowait(p)
    assert calls == [1]  # the first frame that had to wait, and only once
    assert ws.backlog_frames > 1
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ws.run_writer)
            sent = [b"small", *payloads(20)]
            expected = sum(len(frames.frame(frames.OP_BINARY, p)) for p in sent)
            got = b""
            while len(got) < expected:
                got += await read_all(client, until_eof=False)
                if len(got) < expected:
                    await trio.lowlevel.wait_readable(client)
            assert [p for _, p in parse_server_frames(got)] == sent
            ws.start_close(1000)
        client.shutdown(socket.SHUT_WR)
        await ws.aclose()
    assert calls == [1]


async def test_order_kept_through_partial_writes_and_backlog(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server, client = pair
    ws = open_ws(server)
    idle_pair = socket.socketpair()
    idle = open_ws(idle_pair[0])  # a connection that never queues a frame
    sent = payloads(60)
    for p in sent:
        ws.send_nowait(p)
    assert ws.backlog_frames > 0  # the socket could not take it all
    assert ws._head_sent > 0  # and it took a frame in part
    # The backlog is this connection's own, made when needed: the idle one's
    # (shared, empty) never sees these frames.
    assert idle.backlog_frames == 0 and ws._backlog is not idle._backlog
    for end in idle_pair:
        end.close()
    received = bytearray()
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ws.run_writer)
            # Frames sent while the writer works go behind the backlog.
            more = payloads(70)[60:]
            for p in more:
                ws.send_nowait(p)
            while len(parse_frames_prefix(received)) < 70:
                await trio.lowlevel.wait_readable(client)
                received += client.recv(1 << 16)
            await ws.close(1000)
    received += await close_while_reading(ws, client)
    assert parse_server_frames(bytes(received)) == [
        *[(frames.OP_BINARY, p) for p in sent + more],
        (frames.OP_CLOSE, struct.pack("!H", 1000)),
    ]
    assert ws.backlog_bytes == 0  # every byte counted in was counted out


def parse_frames_prefix(data: bytearray) -> list[bytes]:
    """Whole frames at the start of ``data`` (the rest may still be arriving)."""
    out = []
    pos = 0
    while len(data) - pos >= 2:
        n = data[pos + 1] & 0x7F
        head = 2
        if n == 126:
            if len(data) - pos < 4:
                break
            n, head = struct.unpack_from("!H", data, pos + 2)[0], 4
        elif n == 127:
            if len(data) - pos < 10:
                break
            n, head = struct.unpack_from("!Q", data, pos + 2)[0], 10
        if len(data) - pos < head + n:
            break
        out.append(bytes(data[pos + head : pos + head + n]))
        pos += head + n
    return out


async def test_full_backlog_refuses_without_waiting(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server, client = pair
    ws = open_ws(server, backlog=5)
    with pytest.raises(trio.WouldBlock):  # noqa: PT012  # raised by the call that overflows
        for _ in range(1000):
            ws.send_nowait(b"z" * 5000)
    assert ws.backlog_frames == 5
    await close_while_reading(ws, client)


async def test_backlog_is_bounded_in_bytes_too(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server, client = pair
    ws = open_ws(server, backlog=1000, backlog_bytes=50_000)
    with pytest.raises(trio.WouldBlock):  # noqa: PT012  # raised by the call that overflows
        for _ in range(1000):
            ws.send_nowait(b"z" * 5000)
    assert ws.backlog_frames < 20  # the bytes bound came long before the frames bound
    assert 45_000 < ws.backlog_bytes <= 50_000
    assert ws.backlog_bytes == sum(len(f) for f in ws._backlog)
    await close_while_reading(ws, client)


async def test_a_partly_written_frame_counts_whole(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server, client = pair
    ws = open_ws(server, backlog=1000, backlog_bytes=150_000)
    big = frames.frame(frames.OP_BINARY, b"b" * 100_000)
    ws.send_nowait(b"b" * 100_000)  # an empty backlog takes any frame
    assert 0 < ws._head_sent < len(big)
    assert ws.backlog_bytes == len(big)  # held whole, however much was written
    with pytest.raises(trio.WouldBlock):
        ws.send_nowait(b"c" * 50_000)  # 100,010 + 50,010 is past 150,000
    ws.send_nowait(b"c" * 40_000)  # but this fits
    assert ws.backlog_frames == 2
    await close_while_reading(ws, client)


async def test_websockets_sharing_a_cache_frame_a_payload_once(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """What a fan-out relies on: the same payload object, sent on every socket of
    a server, is one frame object (seen here in the backlogs behind full sockets)."""
    other_pair = socket.socketpair()
    try:
        cache = frames.FrameCache()
        sockets = [pair, other_pair]
        for _, client in sockets:
            client.setblocking(False)
        sockets[1][0].setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        ws = [open_ws(server, frame_cache=cache) for server, _ in sockets]
        for each in ws:
            each.send_nowait(b"b" * 100_000)  # more than the kernel takes: a backlog
        payload = b"m" * 500
        for each in ws:
            each.send_nowait(payload)
        assert ws[0]._backlog[-1] is ws[1]._backlog[-1]
        assert ws[0]._backlog[-1] == frames.frame(frames.OP_BINARY, payload)
        for each, (_, client) in zip(ws, sockets, strict=True):
            await close_while_reading(each, client)
    finally:
        for s in other_pair:
            s.close()


async def test_receive_reads_no_more_than_the_reader_may_hold() -> None:
    """Behind a frame of the largest size allowed, the client has sent 100 kB more:
    the server reads the frame, not the 64 kB chunk it would otherwise ask for."""
    server, client = socket.socketpair()  # default buffers: the client's sendall fits
    limit = 1000
    with server, client:
        ws = open_ws(server, max_message=limit)
        client.sendall(
            client_frame(frames.OP_BINARY, b"a" * limit)
            + client_frame(frames.OP_BINARY, b"b" * 500)
            + b"\x82\xfe" + struct.pack("!H", limit) + b"mask" + b"c" * 100_000
        )
        with trio.fail_after(5):
            assert await ws.receive() == b"a" * limit
            held = ws._reader.buffered
            assert held <= limit + frames.MAX_HEADER + frames.MAX_CONTROL_FRAME, held
            assert await ws.receive() == b"b" * 500
            assert len(await ws.receive()) == limit  # a frame "masked" with b"mask"
            assert ws._reader.buffered <= limit + frames.MAX_HEADER + frames.MAX_CONTROL_FRAME
            with pytest.raises(TransportClosed) as closed:
                await ws.receive()  # then junk: b"c" sets reserved bits
            assert closed.value.code == 1002
        client.shutdown(socket.SHUT_WR)
        with trio.fail_after(5):
            await ws.aclose()


async def close_while_reading(ws: WebSocket, client: socket.socket) -> bytes:
    """Close ``ws`` while the client reads to the end, then leaves."""
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ws.aclose)
            data = await read_all(client)
            client.shutdown(socket.SHUT_WR)
    return data


async def test_close_finishes_the_partial_frame_and_drops_the_rest(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server, client = pair
    ws = open_ws(server)
    for p in payloads(30):
        ws.send_nowait(p)
    assert ws._head_sent > 0
    first = await read_all(client, until_eof=False)
    ws.start_close(1013, "slow consumer")
    with pytest.raises(TransportClosed):
        ws.send_nowait(b"late")
    rest = await close_while_reading(ws, client)
    # The stream is whole frames (the cut one was finished), the unstarted ones
    # were dropped, and the close frame comes last.
    got = parse_server_frames(first + rest)
    assert got[-1] == (frames.OP_CLOSE, struct.pack("!H", 1013) + b"slow consumer")
    assert [p for _, p in got[:-1]] == payloads(30)[: len(got) - 1]
    assert len(got) - 1 < 30
    assert server.fileno() == -1


async def test_receive_answers_pings_and_reports_close(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server, client = pair
    ws = open_ws(server)
    client.sendall(
        client_frame(frames.OP_PING, b"are you there")
        + client_frame(frames.OP_TEXT, "tëxt".encode())
        + client_frame(frames.OP_BINARY, b"\x01\x02")
        + client_frame(frames.OP_CLOSE, struct.pack("!H", 4001) + b"done")
    )
    with trio.fail_after(5):
        assert await ws.receive() == "tëxt"
        assert await ws.receive() == b"\x01\x02"
        with pytest.raises(TransportClosed) as closed:
            await ws.receive()
        assert (closed.value.code, closed.value.reason) == (4001, "done")
        await ws.close(4001)
        await ws.aclose()
    got = parse_server_frames(await read_all(client))
    assert got == [
        (frames.OP_PONG, b"are you there"),
        (frames.OP_CLOSE, struct.pack("!H", 4001)),
    ]


async def test_oversized_message_closes_with_1009(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server, client = pair
    ws = open_ws(server, max_message=1000)
    client.sendall(client_frame(frames.OP_BINARY, b"x" * 1001)[:100])
    with trio.fail_after(5):
        with pytest.raises(TransportClosed) as closed:
            await ws.receive()
        assert closed.value.code == 1009
        await ws.close(1009, "too big")
        await ws.aclose()


async def test_peer_gone_ends_the_writer(pair: tuple[socket.socket, socket.socket]) -> None:
    server, client = pair
    ws = open_ws(server)
    for p in payloads(10):
        ws.send_nowait(p)
    client.close()
    with trio.fail_after(5):
        await ws.run_writer()  # returns: the socket broke
        with pytest.raises(TransportClosed):
            ws.send_nowait(b"x")
        with pytest.raises(TransportClosed):
            await ws.receive()
        await ws.aclose()
    assert server.fileno() == -1
