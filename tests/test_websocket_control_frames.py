"""The WebSocket's pings, pongs and close frames at the edges, and sockets that fail.

Over a real socket pair (a TCP pair on 127.0.0.1 where a reset matters), the
client end read and written by hand, as in test_transport_socket.py. Each
test is bounded by ``trio.fail_after`` (a hang guard, not a speed check).
"""

from __future__ import annotations

import socket
import struct

import pytest
import trio

from chat_trio.transport import frames
from chat_trio.transport.websocket import TransportClosed, WebSocket
from tests.test_transport_frames import client_frame, parse_server_frames
from tests.test_transport_socket import open_ws, pair, read_all

__all__ = ["pair"]  # the socket-pair fixture with small kernel buffers, shared


def tcp_pair() -> tuple[socket.socket, socket.socket]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    return server, client


async def test_bytes_read_with_the_head_are_the_first_message(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """A frame the client sent right behind its handshake (read with the head) is
    handed out first, then what comes on the socket."""
    server, client = pair
    ws = WebSocket(
        server, max_message_bytes=1 << 20, max_backlog_frames=10, max_backlog_bytes=1 << 20,
        frame_cache=frames.FrameCache(), buffered=client_frame(frames.OP_BINARY, b"early"),
    )
    client.send(client_frame(frames.OP_TEXT, b"later"))
    with trio.fail_after(5):
        assert await ws.receive() == b"early"
        assert await ws.receive() == "later"


async def test_a_pong_is_ignored_and_a_ping_answered(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server, client = pair
    ws = open_ws(server)
    client.send(
        client_frame(frames.OP_PONG, b"unasked")
        + client_frame(frames.OP_PING, b"p1")
        + client_frame(frames.OP_BINARY, b"data")
    )
    with trio.fail_after(5):
        assert await ws.receive() == b"data"
        got = parse_server_frames(await read_all(client, until_eof=False))
    assert got == [(frames.OP_PONG, b"p1")]


async def test_a_ping_after_the_close_frame_is_not_answered(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """Once the server's close frame is out, nothing follows it, a pong neither."""
    server, client = pair
    ws = open_ws(server)
    ws.start_close(1001, "going away")
    client.send(client_frame(frames.OP_PING, b"p") + client_frame(frames.OP_CLOSE, b""))
    with trio.fail_after(5):
        with pytest.raises(TransportClosed) as caught:
            await ws.receive()
        assert caught.value.code == 1000  # the client's close without a code
        got = parse_server_frames(await read_all(client, until_eof=False))
    assert got == [(frames.OP_CLOSE, struct.pack("!H", 1001) + b"going away")]


async def test_a_pong_that_finds_the_backlog_full_is_dropped(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """A client that sends pings but does not read loses its pongs; it is not cut off
    for that, and what it sends next is still read."""
    server, client = pair
    ws = open_ws(server, backlog=1)
    ws.send_nowait(b"x" * 70_000)  # more than the socket takes: one frame waits
    assert ws.backlog_frames == 1
    client.send(client_frame(frames.OP_PING, b"p") + client_frame(frames.OP_BINARY, b"next"))
    with trio.fail_after(5):
        assert await ws.receive() == b"next"
    assert ws.backlog_frames == 1


async def test_a_pong_the_socket_refuses_breaks_the_sending_side_only(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """The client stopped reading (its read side is shut): answering its ping fails,
    the connection counts as broken for sending, and what it sent is still read."""
    server, client = pair
    ws = open_ws(server)
    client.shutdown(socket.SHUT_RD)
    client.send(client_frame(frames.OP_PING, b"p") + client_frame(frames.OP_BINARY, b"still"))
    with trio.fail_after(5):
        assert await ws.receive() == b"still"
        with pytest.raises(TransportClosed):
            ws.send_nowait(b"more")
        await ws.aclose()


async def test_a_close_frame_of_one_byte_is_a_protocol_error(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server, client = pair
    ws = open_ws(server)
    client.send(client_frame(frames.OP_CLOSE, b"\x03"))
    with trio.fail_after(5), pytest.raises(TransportClosed) as caught:
        await ws.receive()
    assert caught.value.code == frames.CLOSE_PROTOCOL_ERROR


async def test_sending_to_a_peer_that_is_gone_raises_and_closing_is_quick(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """The first send after the client went away raises TransportClosed, so does
    every later one, and closing writes nothing and returns at once."""
    server, client = pair
    ws = open_ws(server)
    client.close()
    with pytest.raises(TransportClosed):
        ws.send_nowait(b"hello")
    with pytest.raises(TransportClosed):
        ws.send_nowait(b"again")
    ws.start_close(1011)
    assert ws.close_code == 1011
    assert ws.backlog_frames == 0
    with trio.fail_after(5):
        await ws.aclose()
    assert server.fileno() == -1


async def test_closing_after_a_reset_skips_the_wait_for_the_client() -> None:
    """The client reset the connection: the close frame cannot be written, nor the
    write side shut, and aclose closes the socket without waiting."""
    server, client = tcp_pair()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()
    ws = open_ws(server)
    with trio.fail_after(5):
        await ws.aclose()
    assert server.fileno() == -1


async def test_aclose_twice_at_once_closes_the_socket_once(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """Two tasks closing the same connection (the session ending and shutdown, say)
    both return; the socket is closed, and a third aclose returns at once."""
    server, client = pair
    ws = open_ws(server)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ws.aclose)
            nursery.start_soon(ws.aclose)
            data = await read_all(client, until_eof=False)
            while not data:
                await trio.lowlevel.wait_readable(client)
                data = await read_all(client, until_eof=False)
            client.send(client_frame(frames.OP_CLOSE, struct.pack("!H", 1000)))
        await ws.aclose()
    assert parse_server_frames(data) == [(frames.OP_CLOSE, struct.pack("!H", 1000))]
    assert server.fileno() == -1


async def test_a_frame_that_finds_the_socket_full_waits_whole_and_goes_out_later(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """The kernel takes nothing of a frame (its buffer is full of earlier bytes):
    the frame is queued whole and the writer sends it once the client reads."""
    server, client = pair
    server.setblocking(False)
    filler = 0
    while True:
        try:
            filler += server.send(b"\0")
        except BlockingIOError:
            break
    ws = open_ws(server)
    ws.send_nowait(b"hello")
    assert (ws.backlog_frames, ws._head_sent) == (1, 0)
    received = bytearray()
    want = filler + len(frames.frame(frames.OP_BINARY, b"hello"))
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ws.run_writer)
            while len(received) < want:
                await trio.lowlevel.wait_readable(client)
                received += client.recv(1 << 16)
            ws.start_close(1000)
    assert bytes(received[filler:want]) == frames.frame(frames.OP_BINARY, b"hello")
