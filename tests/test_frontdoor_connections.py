"""The front door's handling of clients that misbehave or leave early, in process.

A ``FrontDoor`` on 127.0.0.1, port 0, serves a small ASGI app and a small
upgrade handler, so each test can hold a request open (the app waits on an
event) and look at the door's connection count. Clients are stdlib sockets:
what a test sends before its first checkpoint is in the kernel before the door
accepts the connection, which is how a head and a reset (or an end) arrive
together. Each test is bounded by ``trio.fail_after`` (a hang guard, not a
speed check).
"""

from __future__ import annotations

import logging
import socket
import struct
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import trio
import trio.testing
from hypercorn.config import Config as HypercornConfig

from chat_trio.transport import frontdoor
from chat_trio.transport.frontdoor import FrontDoor
from chat_trio.transport.handshake import RequestHead

HEAD = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
UPGRADE = b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"


@dataclass
class App:
    """``/`` answers at once; ``/wait`` answers once ``go`` is set."""

    calls: list[str] = field(default_factory=list)
    waiting: trio.Event = field(default_factory=trio.Event)
    go: trio.Event = field(default_factory=trio.Event)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        self.calls.append(scope["path"])
        if scope["path"] == "/wait":
            self.waiting.set()
            await self.go.wait()
        body = b"ok"
        await send({
            "type": "http.response.start", "status": 200,
            "headers": [(b"content-length", str(len(body)).encode())],
        })
        await send({"type": "http.response.body", "body": body})


@dataclass
class Upgrades:
    """Takes ``/ws``; answers it with one line and closes, refuses it, or crashes."""

    crash: bool = False
    refuse: bool = False
    handled: list[str] = field(default_factory=list)
    drained: bool = False

    def wants(self, request: RequestHead) -> bool:
        return request.path == "/ws"

    async def handle(self, sock: socket.socket, request: RequestHead, buffered: bytes) -> None:
        self.handled.append(request.path)
        if self.crash:
            raise RuntimeError("the upgrade handler broke")
        if self.refuse:
            await frontdoor.refuse(sock, 403, "not you")
            return
        await frontdoor.send_all(sock, b"upgraded\n")
        frontdoor._close(sock)

    async def drain(self) -> None:
        self.drained = True

    def shutdown(self) -> None:
        pass


@dataclass
class Door:
    door: FrontDoor
    port: int
    app: App
    upgrades: Upgrades
    stop: trio.Event
    stopped: trio.Event

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port))


async def start_door(
    nursery: trio.Nursery, *, max_connections: int = 0, crash: bool = False, refuse: bool = False
) -> Door:
    config = HypercornConfig()
    config.accesslog = None
    config.graceful_timeout = 5.0
    config.keep_alive_timeout = 60.0
    app, upgrades = App(), Upgrades(crash=crash, refuse=refuse)
    door = FrontDoor(
        app,  # type: ignore[arg-type]  # a plain ASGI callable; hypercorn's alias is narrower
        config, upgrades, host="127.0.0.1", port=0, max_connections=max_connections
    )
    stop, stopped = trio.Event(), trio.Event()

    async def run(task_status: trio.TaskStatus[list[str]]) -> None:
        await door.serve(shutdown_trigger=stop.wait, task_status=task_status)
        stopped.set()

    binds: list[str] = await nursery.start(run)
    return Door(door, int(binds[0].rsplit(":", 1)[1]), app, upgrades, stop, stopped)


@pytest.fixture
async def door(nursery: trio.Nursery) -> AsyncIterator[Door]:
    d = await start_door(nursery)
    yield d
    d.app.go.set()
    d.stop.set()


def reset(sock: socket.socket) -> None:
    """Close so that the peer gets a reset, not an orderly end."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


async def read_until_eof(sock: socket.socket) -> bytes:
    sock.setblocking(False)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except BlockingIOError:
            await trio.lowlevel.wait_readable(sock)
            continue
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


async def wait_for(condition: Callable[[], bool]) -> None:
    """Until ``condition()`` holds, looking again each time every other task is
    blocked (the door's state changes only when its tasks run; the caller bounds it)."""
    while not condition():
        await trio.testing.wait_all_tasks_blocked()


async def served(d: Door) -> bytes:
    """A plain request on a new connection, answered: the door still works."""
    with d.connect() as sock:
        sock.sendall(HEAD.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
        return await read_until_eof(sock)


def no_crash(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


@pytest.mark.parametrize("how", ["end", "reset", "head then reset"])
async def test_a_client_gone_before_it_is_read_costs_nothing(
    door: Door, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A client that connects and leaves (an end, a reset, or a whole head and then
    a reset, all before the door reads it) is closed quietly and reaches nothing:
    the count of open connections goes back to zero and the door still serves."""
    with trio.fail_after(20):
        sock = door.connect()
        if how == "head then reset":
            sock.sendall(HEAD)
        if how == "end":
            sock.close()
        else:
            reset(sock)
        await wait_for(lambda: door.door.open_connections == 0)
        assert door.app.calls == []
        assert (await served(door)).startswith(b"HTTP/1.1 200")
        await wait_for(lambda: door.door.open_connections == 0)
    no_crash(caplog)


async def test_a_first_head_that_never_ends_is_cut_off(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Half a first head and then silence: the door closes the connection after
    the head timeout, answering nothing."""
    monkeypatch.setattr(frontdoor, "HEAD_TIMEOUT_SECONDS", 0.5)
    d = await start_door(nursery)
    with trio.fail_after(20), d.connect() as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n")
        assert await read_until_eof(sock) == b""
        assert d.app.calls == []
    d.stop.set()


async def test_an_upgrade_after_a_connection_close_request_is_not_handed_over(
    door: Door,
) -> None:
    """A request that ends the connection, with an upgrade pipelined after it: the
    request is answered, the connection ends, and the upgrade goes nowhere."""
    with trio.fail_after(20), door.connect() as sock:
        sock.sendall(HEAD.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n") + UPGRADE)
        answer = await read_until_eof(sock)
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"ok")
    assert door.upgrades.handled == []


async def test_a_head_cut_short_by_the_end_of_the_stream_is_not_served(door: Door) -> None:
    """A whole request, then part of a head, then the client's end: the request is
    answered, the partial one is not, and the connection ends."""
    with trio.fail_after(20), door.connect() as sock:
        sock.sendall(HEAD + b"GET /second HTTP/1.1\r\nHo")
        sock.shutdown(socket.SHUT_WR)
        answer = await read_until_eof(sock)
    assert answer.startswith(b"HTTP/1.1 200")
    assert answer.count(b"HTTP/1.1 200") == 1
    assert door.app.calls == ["/"]


async def test_a_client_reset_while_its_answer_waits_leaves_the_door_serving(
    door: Door, caplog: pytest.LogCaptureFixture
) -> None:
    """The client resets while the app is making its answer: writing the answer
    fails, the connection is closed, and nothing else is disturbed."""
    with trio.fail_after(20):
        sock = door.connect()
        sock.sendall(HEAD.replace(b"GET / ", b"GET /wait "))
        await door.app.waiting.wait()
        reset(sock)
        door.app.go.set()
        await wait_for(lambda: door.door.open_connections == 0)
        assert (await served(door)).startswith(b"HTTP/1.1 200")
    no_crash(caplog)


async def test_at_shutdown_a_busy_connection_gets_its_answer_then_its_end(door: Door) -> None:
    """Shutdown while an answer is being made: the answer is written in full, the
    connection then ends, and the door stops."""
    with trio.fail_after(20), door.connect() as sock:
        sock.sendall(HEAD.replace(b"GET / ", b"GET /wait "))
        await door.app.waiting.wait()
        door.stop.set()
        await wait_for(lambda: door.door.terminating)
        door.app.go.set()
        answer = await read_until_eof(sock)
        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"ok")
        await door.stopped.wait()
    assert door.upgrades.drained


async def test_a_crashing_upgrade_handler_ends_only_its_connection(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    """The upgrade handler raises: the crash is logged, that connection is closed,
    and the door goes on serving."""
    d = await start_door(nursery, crash=True)
    with trio.fail_after(20):
        with d.connect() as sock:
            sock.sendall(UPGRADE)
            assert await read_until_eof(sock) == b""
        assert d.upgrades.handled == ["/ws"]
        assert "a connection's handler crashed" in caplog.text
        assert (await served(d)).startswith(b"HTTP/1.1 200")
    d.stop.set()


@pytest.mark.parametrize("how", ["head", "head and end", "reset"])
async def test_over_the_cap_with_none_idle_a_new_client_is_refused(
    nursery: trio.Nursery, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    """One connection allowed and it is busy: a new client that already sent a
    head (and perhaps its end) gets 503 and the end; one that reset is just
    closed. The busy one is answered afterwards."""
    d = await start_door(nursery, max_connections=1)
    with trio.fail_after(20), d.connect() as busy:
        busy.sendall(HEAD.replace(b"GET / ", b"GET /wait "))
        await d.app.waiting.wait()
        extra = d.connect()
        extra.sendall(HEAD)
        if how == "head and end":
            extra.shutdown(socket.SHUT_WR)
        if how == "reset":
            reset(extra)
            # the door accepts and refuses it; then the busy one is alone again
            with d.connect() as probe:
                probe.sendall(HEAD)
                assert (await read_until_eof(probe)).startswith(b"HTTP/1.1 503")
        else:
            with extra:
                assert (await read_until_eof(extra)).startswith(b"HTTP/1.1 503")
        assert d.door.open_connections == 1
        d.app.go.set()
        busy.shutdown(socket.SHUT_WR)
        assert (await read_until_eof(busy)).startswith(b"HTTP/1.1 200")
    no_crash(caplog)
    d.stop.set()


def test_a_port_in_use_is_an_error_and_leaks_no_socket() -> None:
    """open_listener on a port another socket listens on raises, and closes its socket."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match="in use"):
            frontdoor.open_listener("127.0.0.1", port, 16)


async def test_a_malformed_head_is_answered_400_and_the_connection_ends(door: Door) -> None:
    """Bytes that are no HTTP request: hypercorn answers 400 and the door reads no more."""
    with trio.fail_after(20), door.connect() as sock:
        sock.sendall(b"NOT A REQUEST\r\n\r\n")
        answer = await read_until_eof(sock)
    assert answer.startswith(b"HTTP/1.1 400")
    assert door.app.calls == []


async def test_at_shutdown_a_connection_inside_a_head_is_closed_when_it_sends_more(
    door: Door,
) -> None:
    """Shutdown while a kept-alive connection has sent part of its next head: the
    next bytes it sends end it, unanswered (it is neither idle nor busy)."""
    with trio.fail_after(20), door.connect() as sock:
        sock.sendall(HEAD + b"GET /second HTTP/1.1\r\n")
        sock.setblocking(False)
        answer = b""
        while not answer.endswith(b"ok"):
            await trio.lowlevel.wait_readable(sock)
            answer += sock.recv(65536)
        door.stop.set()
        await wait_for(lambda: door.upgrades.drained)
        sock.send(b"Host: a\r\n")
        assert await read_until_eof(sock) == b""
        await door.stopped.wait()
    assert door.app.calls == ["/"]


async def test_a_refusal_to_a_client_already_gone_is_dropped_quietly(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    """The upgrade handler refuses a client that sent its head and reset: writing
    the refusal fails, the socket is closed, and nothing is logged as an error."""
    d = await start_door(nursery, refuse=True)
    with trio.fail_after(20):
        sock = d.connect()
        sock.sendall(UPGRADE)
        reset(sock)
        await wait_for(lambda: d.upgrades.handled == ["/ws"] and d.door.open_connections == 0)
        with d.connect() as sock:
            sock.sendall(UPGRADE)
            answer = await read_until_eof(sock)
        assert answer.startswith(b"HTTP/1.1 403") and b"not you" in answer
    no_crash(caplog)
    d.stop.set()
