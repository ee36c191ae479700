"""The front door end to end: every request on a connection routed, keep-alive, the cap.

A real server on 127.0.0.1, port 0 (SQLite), raw TCP where the bytes matter and
trio-websocket over the very same TCP stream where a later request on a
kept-alive connection becomes the WebSocket. Each test is bounded with
``trio.fail_after`` (a hang guard, never a speed check).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
import trio_websocket

from chat_trio.client import ChatClient, Connection
from chat_trio.model import FrameType
from chat_trio.transport import frontdoor
from tests.conftest import PASSWORD, Server, server_config, start_server

KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def host_port(url: str) -> tuple[str, int]:
    host, port = url.split("://")[1].split(":")
    return host, int(port)


async def read_response(stream: trio.abc.ReceiveStream, buffer: bytearray) -> bytes:
    """One HTTP response with a Content-Length body, from ``buffer`` and the stream."""
    while b"\r\n\r\n" not in buffer:
        chunk = await stream.receive_some()
        assert chunk, f"connection ended inside a response head: {bytes(buffer)!r}"
        buffer += chunk
    head, _, _ = bytes(buffer).partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    total = len(head) + 4 + length
    while len(buffer) < total:
        chunk = await stream.receive_some()
        assert chunk, "connection ended inside a response body"
        buffer += chunk
    answer = bytes(buffer[:total])
    del buffer[:total]
    return answer


async def read_until_eof(stream: trio.abc.ReceiveStream) -> bytes:
    """Everything until the server closes (a reset counts as the end too)."""
    data = b""
    try:
        while chunk := await stream.receive_some():
            data += chunk
    except trio.BrokenResourceError:
        pass
    return data


async def message_each_way(conn: Connection) -> None:
    """The welcome comes from the server; a heartbeat goes up and its pong comes back."""
    welcome = await conn.receive()
    assert (getattr(welcome, "from"), welcome.content) == ("System", "welcome!")
    await conn.heartbeat()
    while (answer := await conn.receive()).type != FrameType.HEARTBEAT:
        pass
    assert answer.content == "pong"


@asynccontextmanager
async def websocket_on(
    stream: trio.abc.Stream, host: str, resource: str
) -> AsyncIterator[Connection]:
    async with trio.open_nursery() as nursery:
        ws = await trio_websocket.wrap_client_stream(
            nursery, stream, host, resource  # type: ignore[arg-type]  # annotated narrowly; takes any Stream
        )
        try:
            yield Connection(ws)
        finally:
            await ws.aclose()


@pytest.fixture
async def plain(nursery: trio.Nursery, tmp_path: Path) -> Server:
    config = server_config(tmp_path).replace("server", keep_alive_timeout=60.0)
    return await start_server(nursery, config, tmp_path)


@pytest.fixture
async def api(plain: Server) -> AsyncIterator[ChatClient]:
    async with ChatClient(plain.url) as client:
        await client.signup("door", PASSWORD)
        yield client


def socket_resource(api: ChatClient, path: str = "/socket.io") -> str:
    assert api.me is not None
    return f"{path}?token={api.me.token}"


@pytest.mark.parametrize("pipelined", [False, True])
async def test_an_upgrade_after_http_on_one_connection_is_the_websocket(
    plain: Server, api: ChatClient, pipelined: bool
) -> None:
    """Plain requests (with Content-Length and chunked bodies that hold what looks
    like an upgrade) and then an upgrade,
    all on one connection, as a keep-alive proxy sends them: each request gets its
    own answer, in order, and the upgrade becomes the chat socket."""
    host, port = host_port(plain.url)
    lookalike = b"GET /socket.io HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"  # in a body
    chunk = b"\r\n\r\n" + lookalike[:12]
    bodies = (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
        % (len(lookalike), lookalike),
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n%x\r\n%s\r\n0\r\nX-Trailer: 1\r\n\r\n" % (len(chunk), chunk),
    )
    with trio.fail_after(20):
        stream = await trio.open_tcp_stream(host, port)
        async with stream:
            buffer = bytearray()
            if pipelined:
                await stream.send_all(b"".join(bodies))
                answers = [await read_response(stream, buffer) for _ in bodies]
            else:
                answers = []
                for request in bodies:
                    await stream.send_all(request)
                    answers.append(await read_response(stream, buffer))
            assert [a[:12] for a in answers] == [b"HTTP/1.1 200"] * 3
            assert not buffer
            async with websocket_on(stream, host, socket_resource(api)) as conn:
                await message_each_way(conn)


async def test_the_trailing_slash_path_is_the_websocket(plain: Server, api: ChatClient) -> None:
    host, port = host_port(plain.url)
    with trio.fail_after(10):
        stream = await trio.open_tcp_stream(host, port)
        async with stream, websocket_on(stream, host, socket_resource(api, "/socket.io/")) as conn:
            await message_each_way(conn)


@pytest.mark.parametrize(
    ("change", "status"),
    [
        (("Connection: Upgrade", "Connection: noupgrade"), 400),
        (("Connection: Upgrade", "Connection: keep-alive"), 400),
        (("Upgrade: websocket", "Upgrade: websocket2"), 404),
        (("Host: x\r\n", ""), 400),
        (("HTTP/1.1", "HTTP/1.0"), 400),
        (("Version: 13", "Version: 13, 8"), 426),
    ],
)
async def test_handshake_headers_are_token_lists_and_host_and_1_1_are_required(
    plain: Server, api: ChatClient, change: tuple[str, str], status: int
) -> None:
    good = (
        f"GET {socket_resource(api)} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {KEY}\r\n\r\n"
    )
    with trio.fail_after(10):
        stream = await trio.open_tcp_stream(*host_port(plain.url))
        async with stream:
            await stream.send_all(good.replace(*change).encode())
            answer = await read_response(stream, bytearray())
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["code"] == -1


async def test_the_same_headers_with_spaces_and_case_are_accepted(
    plain: Server, api: ChatClient
) -> None:
    head = (
        f"GET {socket_resource(api)} HTTP/1.1\r\nHost: x\r\nUpgrade:  WebSocket \r\n"
        f"Connection: keep-alive ,  UPGRADE\r\nSec-WebSocket-Version: 13\r\n"
        f"Sec-WebSocket-Key: {KEY}\r\n\r\n"
    )
    with trio.fail_after(10):
        stream = await trio.open_tcp_stream(*host_port(plain.url))
        async with stream:
            await stream.send_all(head.encode())
            data = b""
            while b"\r\n\r\n" not in data:
                data += await stream.receive_some()
    assert data.startswith(b"HTTP/1.1 101 ")


@pytest.fixture
async def quick(nursery: trio.Nursery, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Server:
    """A server that closes idle connections after half a second, slow heads after one."""
    monkeypatch.setattr(frontdoor, "HEAD_TIMEOUT_SECONDS", 1.0)
    config = server_config(tmp_path).replace("server", keep_alive_timeout=0.5)
    return await start_server(nursery, config, tmp_path)


async def test_an_idle_keep_alive_connection_is_closed_after_the_timeout(quick: Server) -> None:
    with trio.fail_after(10):
        stream = await trio.open_tcp_stream(*host_port(quick.url))
        async with stream:
            await stream.send_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            buffer = bytearray()
            assert (await read_response(stream, buffer)).startswith(b"HTTP/1.1 200 ")
            assert await read_until_eof(stream) == b""


async def test_a_later_head_sent_slowly_is_cut_off(quick: Server) -> None:
    """The slowloris bound holds for every head, not only the first."""
    with trio.fail_after(8):
        stream = await trio.open_tcp_stream(*host_port(quick.url))
        async with stream:
            await stream.send_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            buffer = bytearray()
            await read_response(stream, buffer)
            await stream.send_all(b"GET /healthz HTTP/1.1\r\n")
            # Trickle one header byte at a time, well within the keep-alive timeout
            # each, until the server gives up on the head.
            with trio.move_on_after(5):
                try:
                    while True:
                        await stream.send_all(b"X")
                        await trio.sleep(0.2)
                except trio.BrokenResourceError:
                    pass
            assert await read_until_eof(stream) == b""


async def test_a_busy_connection_is_not_timed_out_while_its_answer_is_made(
    quick: Server,
) -> None:
    """Only a connection with nothing to answer counts as idle: a request body that
    is still arriving, at a slow pace, keeps the connection open."""
    with trio.fail_after(20):
        stream = await trio.open_tcp_stream(*host_port(quick.url))
        async with stream:
            body = json.dumps({"username": "slowpoke", "password": PASSWORD}).encode()
            await stream.send_all(
                b"POST /user/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                b"\r\nContent-Length: %d\r\n\r\n" % len(body)
            )
            for i in range(0, len(body), len(body) // 5):
                await trio.sleep(0.3)
                await stream.send_all(body[i : i + len(body) // 5])
            answer = await read_response(stream, bytearray())
    assert answer.startswith(b"HTTP/1.1 201 "), answer


async def test_over_the_cap_the_longest_idle_connection_makes_room(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    config = server_config(tmp_path).replace("server", max_connections=3)
    server = await start_server(nursery, config, tmp_path)
    host, port = host_port(server.url)
    with trio.fail_after(20):
        idle = []
        for _ in range(3):
            stream = await trio.open_tcp_stream(host, port)
            await stream.send_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            await read_response(stream, bytearray())
            idle.append(stream)
        newcomer = await trio.open_tcp_stream(host, port)
        await newcomer.send_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await read_response(newcomer, bytearray())).startswith(b"HTTP/1.1 200 ")
        assert await read_until_eof(idle[0]) == b""  # the oldest made room
        for stream in [*idle, newcomer]:
            await stream.aclose()
        # Chat sessions are never closed to make room: with three open, a newcomer
        # is answered 503 and closed.
        async with ChatClient(server.url) as api:
            await api.signup("capped", PASSWORD)
            async with api.connect() as a, api.connect() as b, api.connect() as c:
                for conn in (a, b, c):
                    await conn.receive()  # welcome: the session is running
                refused = await trio.open_tcp_stream(host, port)
                async with refused:
                    answer = await read_until_eof(refused)
    assert answer.startswith(b"HTTP/1.1 503 ")
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["code"] == -1


# --- More clients than descriptors: a server process under a low RLIMIT_NOFILE ------

DESCRIPTORS = 256


#: Runs argv[2:] with both RLIMIT_NOFILE limits at argv[1] (no preexec_fn: no fork
#: in a process with threads).
WITH_LIMIT = (
    "import os, resource, sys; n = int(sys.argv[1]); "
    "resource.setrlimit(resource.RLIMIT_NOFILE, (n, n)); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[2:]])"
)


async def wait_listening(log: Path, process: trio.Process) -> str:
    """The server's URL, from its log line (bounded by the caller)."""
    while True:
        text = await trio.Path(log).read_text()
        found = re.search(r"listening on (http://\S+)", text)
        if found:
            return found.group(1)
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}: {text}")
        await trio.sleep(0.05)


@pytest.mark.parametrize(
    "max_connections", [0, 10_000], ids=["cap-from-the-limit", "cap-above-the-limit"]
)
async def test_more_idle_clients_than_descriptors_and_new_ones_are_still_served(
    tmp_path: Path, max_connections: int
) -> None:
    """300 kept-alive connections against 256 descriptors: with the cap derived from
    the limit the longest-idle ones make room; with a cap above it, accept() runs
    out of descriptors and the front door closes idle ones and goes on. Either way
    a newcomer's request and WebSocket are served, and the keep-alive timeout (a
    minute here) never had to help."""
    config = tmp_path / "config.toml"
    config.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = 0\nkeepAliveTimeout = 60.0\n'
        f"maxConnections = {max_connections}\n"
        f'[sqlite]\npath = "{tmp_path / "chat.db"}"\n'
        f'[staticPath]\nfilePath = "{tmp_path / "files"}"\n'
        f'[log]\npath = "{tmp_path / "server.log"}"\n'
        "[auth]\nargon2TimeCost = 1\nargon2MemoryKib = 1024\nargon2Parallelism = 1\n"
    )
    log = tmp_path / "server.log"
    log.touch()
    process = await trio.lowlevel.open_process(
        [sys.executable, "-c", WITH_LIMIT, str(DESCRIPTORS),
         "-m", "chat_trio", "serve", "--config", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    idle: list[trio.SocketStream] = []
    try:
        with trio.fail_after(120):
            url = await wait_listening(log, process)
            host, port = host_port(url)
            async with ChatClient(url) as api, ChatClient(url) as early_api:
                await api.signup("crowded", PASSWORD)
                await early_api.login("crowded", PASSWORD)
                async with early_api.connect() as early:
                    await early.receive()  # welcome: a session open before the crowd
                    for _ in range(300):
                        stream = await trio.open_tcp_stream(host, port)
                        idle.append(stream)
                        await stream.send_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                        answer = await read_response(stream, bytearray())
                        assert answer.startswith(b"HTTP/1.1 200 ")
                    newcomer = await trio.open_tcp_stream(host, port)
                    async with newcomer:
                        await newcomer.send_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                        answer = await read_response(newcomer, bytearray())
                        assert answer.startswith(b"HTTP/1.1 200 ")
                    async with api.connect() as conn:
                        await message_each_way(conn)
                    assert await read_until_eof(idle[0]) == b""  # made room long ago
                    await early.heartbeat()  # the session from before is still served
                    while (reply := await early.receive()).type != FrameType.HEARTBEAT:
                        pass
                    assert reply.content == "pong"
    finally:
        for stream in idle:
            await stream.aclose()
        process.terminate()
        with trio.move_on_after(10) as waited:
            waited.shield = True
            await process.wait()
        if process.returncode is None:
            process.kill()
    text = await trio.Path(log).read_text()
    assert "Traceback" not in text, text
    # With the cap derived from the limit, accept() never ran out of descriptors.
    assert ("accept failed" in text) == (max_connections > DESCRIPTORS), text
