"""The RESP client (bus/resp.py) against the machine's Redis and against peers
that misbehave.

Logging in, selecting a database and long replies go to the real Redis on
127.0.0.1:6379. What Redis never does (a malformed reply, silence, a reset, a
reply in pieces) comes from a scripted peer on 127.0.0.1, port 0, that reads a
command and answers with given bytes. Each test is bounded by
``trio.fail_after`` (a hang guard, not a speed check).
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Awaitable, Callable
from functools import partial

import pytest
import trio

from chat_trio.bus import resp
from chat_trio.bus.resp import RedisAddress, RedisConnection, RedisUnavailable

URL = "redis://127.0.0.1:6379"

Script = Callable[[trio.SocketStream], Awaitable[None]]


async def scripted_peer(nursery: trio.Nursery, script: Script) -> RedisAddress:
    """A server on 127.0.0.1 that runs ``script`` on each connection it accepts."""
    listeners = await nursery.start(partial(trio.serve_tcp, script, 0, host="127.0.0.1"))
    port = listeners[0].socket.getsockname()[1]
    return RedisAddress("127.0.0.1", port, 0, None, None)


def answering(*chunks: bytes) -> Script:
    """Reads a command, then writes each chunk in its own write, then waits for the end."""

    async def script(stream: trio.SocketStream) -> None:
        await stream.receive_some()
        for chunk in chunks:
            await stream.send_all(chunk)
        while await stream.receive_some():
            pass

    return script


async def silent(stream: trio.SocketStream) -> None:
    """Never answers, never reads."""
    await trio.sleep_forever()


async def resetting(stream: trio.SocketStream) -> None:
    """Reads a command and resets the connection."""
    await stream.receive_some()
    stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    stream.socket.close()


async def test_a_username_and_password_and_a_database_are_sent_on_connect() -> None:
    """``redis://user:password@host/db``: AUTH with both, then SELECT. The
    machine's Redis lets the default user in with any password."""
    with trio.fail_after(10):
        one = await RedisConnection.open(RedisAddress.parse(f"redis://default:any@{URL[8:]}/3"))
        zero = await RedisConnection.open(RedisAddress.parse(URL))
        try:
            await one.execute(("SET", "resp-client-db", "three"))
            assert await one.execute(("GET", "resp-client-db")) == [b"three"]
            assert await zero.execute(("GET", "resp-client-db")) == [None]
            await one.execute(("DEL", "resp-client-db"))
        finally:
            await one.aclose()
            await zero.aclose()


async def test_a_refused_password_is_redis_unavailable() -> None:
    """A password the server does not take: the connection fails with Redis's reason."""
    with trio.fail_after(10), pytest.raises(RedisUnavailable, match=r"refused.*AUTH"):
        await RedisConnection.open(RedisAddress.parse("redis://:wrong@127.0.0.1:6379"))


async def test_no_commands_need_no_round_trip(nursery: trio.Nursery) -> None:
    """An empty batch returns at once, even on a peer that never answers."""
    connection = RedisConnection(await trio.open_tcp_stream(*(await peer_of(nursery, silent))))
    with trio.fail_after(5):
        assert await connection.execute() == []
    await connection.aclose()


async def peer_of(nursery: trio.Nursery, script: Script) -> tuple[str, int]:
    address = await scripted_peer(nursery, script)
    return address.host, address.port


async def test_a_reply_larger_than_one_read_is_read_whole() -> None:
    """A bulk string longer than one read (64 KiB) comes back whole."""
    value = bytes(range(256)) * 1024  # 256 KiB
    with trio.fail_after(10):
        connection = await RedisConnection.open(RedisAddress.parse(URL))
        try:
            replies = await connection.execute(
                ("SET", "resp-client-big", value), ("GET", "resp-client-big"),
                ("DEL", "resp-client-big"),
            )
        finally:
            await connection.aclose()
    assert replies == [b"OK", value, 1]


async def test_a_reply_in_pieces_is_put_together(nursery: trio.Nursery) -> None:
    """A reply cut anywhere (inside a line, inside a bulk string) is read whole."""
    pieces = answering(b"*2\r\n$5\r\nhe", b"llo\r", b"\n:4", b"2\r\n")
    address = await scripted_peer(nursery, pieces)
    connection = RedisConnection(await trio.open_tcp_stream(address.host, address.port))
    with trio.fail_after(5):
        assert await connection.execute(("GET", "x")) == [[b"hello", 42]]
    await connection.aclose()


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (b"\r\n", "empty line"),
        (b"?what\r\n", "not a RESP reply"),
        (b":forty-two\r\n", "not a RESP reply"),
        (b"*x\r\n", "not a RESP reply"),
        (b"$3\r\nab", "closed the connection"),
    ],
)
async def test_a_malformed_or_cut_reply_is_redis_unavailable(
    nursery: trio.Nursery, answer: bytes, match: str
) -> None:
    """What is not RESP, or a reply the peer cuts short by closing, fails the
    connection with a reason; it is never taken for a reply."""

    async def script(stream: trio.SocketStream) -> None:
        await stream.receive_some()
        await stream.send_all(answer)
        await stream.aclose()

    address = await scripted_peer(nursery, script)
    connection = RedisConnection(await trio.open_tcp_stream(address.host, address.port))
    with trio.fail_after(5), pytest.raises(RedisUnavailable, match=match):
        await connection.execute(("PING",))
    await connection.aclose()


async def test_a_silent_peer_is_redis_unavailable_after_the_timeout(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No answer within IO_TIMEOUT: execute gives up; a write the peer never reads
    gives up too."""
    monkeypatch.setattr(resp, "IO_TIMEOUT", 0.3)
    address = await scripted_peer(nursery, silent)
    connection = RedisConnection(await trio.open_tcp_stream(address.host, address.port))
    with trio.fail_after(10):
        with pytest.raises(RedisUnavailable, match="no answer"):
            await connection.execute(("PING",))
        with pytest.raises(RedisUnavailable, match="did not take a write"):
            # far more than the socket buffers hold: the write itself waits
            await connection.send(*[("PUBLISH", "c", b"x" * 65536)] * 512)
    await connection.aclose()


async def test_a_connection_reset_is_redis_unavailable(nursery: trio.Nursery) -> None:
    """The peer resets: reading a reply, reading a push and writing all fail with
    RedisUnavailable, never with the socket's own exception."""
    address = await scripted_peer(nursery, resetting)
    with trio.fail_after(10):
        connection = RedisConnection(await trio.open_tcp_stream(address.host, address.port))
        with pytest.raises(RedisUnavailable, match="lost"):
            await connection.execute(("PING",))
        await connection.aclose()

        connection = RedisConnection(await trio.open_tcp_stream(address.host, address.port))
        await connection.send(("SUBSCRIBE", "c"))
        with pytest.raises(RedisUnavailable, match="lost"):
            await connection.receive()
        with pytest.raises(RedisUnavailable, match="lost"):
            await connection.send(("PING",))
        await connection.aclose()
