"""The front door end to end: routing, refusals, limits, order and shutdown.

A real server on 127.0.0.1, port 0; raw TCP where the exact bytes matter, the
trio-websocket client otherwise. Each test is bounded with ``trio.fail_after``
(a hang guard, never a speed check).
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest
import trio
import trio_websocket

from chat_trio.app import serve
from chat_trio.client import ChatClient, Connection, Message
from chat_trio.model import FrameType
from tests.conftest import PASSWORD, MakeUser, Server, make_group, server_config


@pytest.fixture
def server_limits() -> dict[str, object]:
    # Bursts here outrun the per-session rate limit on purpose; its 429s are tested elsewhere.
    return {"max_frame_bytes": 2048, "messages_per_second": 100_000.0, "message_burst": 100_000}


def host_port(server: Server) -> tuple[str, int]:
    host, port = server.url.split("://")[1].split(":")
    return host, int(port)


async def exchange(
    server: Server, request: bytes, *, until: bytes = b"null}", count: int = 1
) -> bytes:
    """Send raw bytes; read until the server closes or ``until`` arrived ``count`` times."""
    stream = await trio.open_tcp_stream(*host_port(server))
    async with stream:
        await stream.send_all(request)
        data = b""
        while data.count(until) < count and (chunk := await stream.receive_some()):
            data += chunk
        return data


KEY = "dGhlIHNhbXBsZSBub25jZQ=="


async def test_pipelined_http_requests_reach_hypercorn(server: Server) -> None:
    with trio.fail_after(10):
        answer = await exchange(
            server,
            b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /nope2 HTTP/1.1\r\nHost: x\r\n\r\n",
            until=b"no such route",
            count=2,
        )
    assert answer.count(b"HTTP/1.1 404") == 2
    assert b'"code":-1' in answer.replace(b" ", b"")


@pytest.mark.parametrize(
    ("headers", "status", "reason"),
    [
        ("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n", 400, "Key"),
        (
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\n"
            f"Sec-WebSocket-Key: {KEY}\r\n",
            426,
            "Version",
        ),
        (
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Key: {KEY}\r\nAuthorization: Bearer forged\r\n",
            401,
            "not logged in",
        ),
    ],
)
async def test_bad_handshakes_get_a_status_and_the_envelope(
    server: Server, headers: str, status: int, reason: str
) -> None:
    with trio.fail_after(10):
        answer = await exchange(
            server, f"GET /socket.io HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode()
        )
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode())
    envelope = json.loads(body)
    assert envelope["code"] == -1 and envelope["data"] is None
    assert reason in envelope["msg"]


async def test_a_frame_over_the_limit_closes_with_1009(make_user: MakeUser) -> None:
    user = await make_user()
    with trio.fail_after(10):
        async with user.api.connect() as conn:
            await conn.receive()  # welcome
            await conn.send_raw(b"\x00" * 3000)
            with pytest.raises(trio_websocket.ConnectionClosed) as closed:
                await conn.receive()
    assert closed.value.reason is not None
    assert closed.value.reason.code == 1009


async def test_a_burst_arrives_whole_and_in_order(make_user: MakeUser) -> None:
    sender, reader = await make_user(), await make_user()
    group_uuid = await make_group(sender, "burst", reader)
    count = 300
    with trio.fail_after(30):
        async with sender.api.connect() as cs, reader.api.connect() as cr:
            await cs.receive()
            await cr.receive()
            for i in range(count):
                await cs.send_text(group_uuid, f"{i:04d}" + "y" * (i * 37 % 1500), group=True)
            got: list[Message] = []
            while len(got) < count:
                message = await cr.receive()
                if message.type == FrameType.CHAT:
                    got.append(message)
    assert [m.content[:4] for m in got] == [f"{i:04d}" for i in range(count)]
    assert [m.id for m in got] == sorted(m.id for m in got)


async def receive_forever(conn: Connection) -> None:
    while True:
        await conn.receive()


async def test_shutdown_closes_sockets_with_1001(tmp_path: Path) -> None:
    stop = trio.Event()
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            config = server_config(tmp_path)
            url = await nursery.start(partial(serve, config, shutdown_trigger=stop.wait))
            async with ChatClient(url) as api:
                await api.signup("leaver", PASSWORD)
                async with api.connect() as conn:
                    await conn.receive()
                    stop.set()
                    with pytest.raises(trio_websocket.ConnectionClosed) as closed:
                        await receive_forever(conn)
    assert closed.value.reason is not None
    assert closed.value.reason.code == 1001
