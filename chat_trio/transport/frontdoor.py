"""The front door: one listening port for the HTTP API and the WebSocket.

It accepts TCP connections itself and reads what each client sends, following
it request by request (transport/http1.py finds where each head starts):

- a request for ``/socket.io`` asking for a WebSocket upgrade goes to the
  upgrade handler (api/socket.py), which checks the login token, answers the
  handshake and runs the session over the connection's own socket
  (websocket.py). That holds for a connection's first request and for a later
  one on a kept-alive connection (a proxy such as nginx reuses its upstream
  connections for any request): the front door stops passing bytes to
  hypercorn, lets it finish writing every earlier response, ends hypercorn's
  side of the connection without closing the socket, and hands the socket and
  the bytes after the head to the upgrade handler;
- everything else goes, as it arrives, to hypercorn's HTTP/1.1 protocol, which
  the front door drives itself (as ``hypercorn.trio.tcp_server`` would):
  keep-alive, pipelining, uploads, the web client.

Connections and their limits, all owned here rather than by hypercorn:

- the first request head must arrive within ``HEAD_TIMEOUT_SECONDS``, and so
  must every later head once its first byte has come (a slowloris bound);
- a connection idle between requests (every answer written, nothing of the
  next head) is closed after ``keep_alive_timeout`` seconds. hypercorn's own
  keep-alive timer is not used: it is started from inside the application's
  response task, whose cancel scope quart-trio cancels as the response ends,
  so trio never moves it to the connection and it dies at once;
- at most ``max_connections`` connections are open. A new one over the cap
  closes the longest-idle keep-alive connection (or one that has sent nothing
  yet); with none to close it is answered ``503`` with the JSON envelope and
  closed. WebSocket sessions are never closed to make room;
- when accept() fails for want of descriptors (EMFILE, ENFILE) the loop closes
  an idle connection, waits for a connection to end (or a short while), and
  goes on accepting; it neither stops nor spins, and existing clients are
  served throughout.

Hypercorn's application lifespan (quart-trio's startup and shutdown, which own
``app.nursery``) runs around the listener as in ``hypercorn.trio.serve``.

Shutdown, when ``shutdown_trigger`` returns: the listener closes first, idle
connections are closed, busy ones finish their response and close, and the
upgrade handler drains its sessions (they stop reading; what they sent is
stored and acked) and closes them (code 1001); whatever still runs after
``graceful_timeout`` seconds is cancelled.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import math
import resource
import socket
from collections.abc import Awaitable, Callable
from typing import Protocol

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.events import Closed, Event, RawData, Updated
from hypercorn.protocol import ProtocolWrapper
from hypercorn.trio.lifespan import Lifespan
from hypercorn.trio.task_group import TaskGroup
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.typing import ConnectionState, Framework, LifespanState
from hypercorn.utils import parse_socket_addr, wrap_app

from chat_trio.transport.handshake import RequestHead, refusal_response
from chat_trio.transport.http1 import RequestSplitter

log = logging.getLogger(__name__)

#: How long a client may take to send a request head (the first one from the
#: moment it connects, a later one from its first byte).
HEAD_TIMEOUT_SECONDS = 10.0

#: The most bytes read from a connection at once.
MAX_RECV = 64 * 1024

#: accept() errors that mean "out of descriptors or memory, try again soon".
_ACCEPT_RETRY_LATER = {errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS}
#: accept() errors about one connection that died before it was accepted.
_ACCEPT_SKIP = {errno.ECONNABORTED, errno.EPROTO, errno.EPERM, errno.EINTR}
#: Seconds between two log lines about accept() running out of descriptors.
_SHORTAGE_LOG_INTERVAL = 10.0


def default_max_connections() -> int:
    """The connection cap when none is configured: the descriptor limit less a reserve.

    The reserve (a quarter of the limit, at least 64) is for everything else the
    process opens: the database (SQLite files or the MySQL pool), Redis, files
    being uploaded or served, logs, and trio's own.
    """
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    # Linux caps the limit at fs.nr_open, so only other systems report infinity.
    if soft == resource.RLIM_INFINITY:  # pragma: no cover
        soft = 1 << 20
    return max(16, soft - max(64, soft // 4))


class UpgradeHandler(Protocol):
    """Serves WebSocket upgrade requests on their own socket."""

    def wants(self, request: RequestHead) -> bool:
        """Whether this request is for the handler (otherwise it goes to HTTP)."""
        ...

    async def handle(self, sock: socket.socket, request: RequestHead, buffered: bytes) -> None:
        """Answer the handshake and serve the connection; owns and closes ``sock``."""
        ...

    async def drain(self) -> None:
        """Stop reading, let the server finish what was read, then close with 1001."""
        ...

    def shutdown(self) -> None:
        """Close every live connection with code 1001 (going away), now."""
        ...


def open_listener(host: str, port: int, backlog: int) -> socket.socket:
    """A non-blocking listening TCP socket on ``host:port`` (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _close(sock: socket.socket) -> None:
    if sock.fileno() >= 0:
        trio.lowlevel.notify_closing(sock)
        sock.close()


async def _recv(sock: socket.socket) -> bytes:
    """What the socket has, waiting until it has something. Checkpoints once.

    Straight on the stdlib socket: a head that is already there (the common case
    right after accept) is read without a trip through the event loop first.
    """
    try:
        data = sock.recv(MAX_RECV)
    except BlockingIOError:
        while True:
            await trio.lowlevel.wait_readable(sock)
            try:
                return sock.recv(MAX_RECV)
            # a readiness the kernel took back before the read: no test can time it
            except BlockingIOError:  # pragma: no cover
                continue
    await trio.lowlevel.cancel_shielded_checkpoint()
    return data


class _Connection:
    """One accepted connection while the front door reads it."""

    __slots__ = (
        "busy", "closing", "door", "head_started", "idle_since", "scope", "sock", "splitter",
    )

    def __init__(self, door: FrontDoor, sock: socket.socket, splitter: RequestSplitter) -> None:
        self.door = door
        self.sock = sock
        self.splitter = splitter
        #: hypercorn has a request it has not finished answering.
        self.busy = False
        #: hypercorn, a timeout or the cap ended the connection: read no more.
        self.closing = False
        self.idle_since = trio.current_time()
        self.head_started: float | None = None
        #: Around the read in progress, if any: its deadline follows the state.
        self.scope: trio.CancelScope | None = None

    def deadline(self) -> float:
        """When the read in progress gives up, given what the connection is doing."""
        if self.busy:
            return math.inf  # the client waits for an answer; silence is normal
        if self.door.terminating:
            return -math.inf
        if self.head_started is not None:
            return max(self.head_started, self.idle_since) + HEAD_TIMEOUT_SECONDS
        return self.idle_since + self.door.keep_alive_timeout

    def refresh(self) -> None:
        """Apply the deadline and the idle registration to the read in progress."""
        scope = self.scope
        if scope is None:
            return
        scope.deadline = self.deadline()
        if not self.busy and not self.splitter.holding:
            self.door.idle[self] = None
        else:
            self.door.idle.pop(self, None)

    def end(self) -> None:
        """Read no more; the connection closes once hypercorn's side is done."""
        self.closing = True
        if self.scope is not None:
            self.scope.cancel()

    async def receive(self) -> bytes | None:
        """The next bytes from the client; b"" at its end, None when the read gave up."""
        if self.closing:
            return None
        with trio.CancelScope() as scope:
            self.scope = scope
            self.refresh()
            try:
                data = await _recv(self.sock)
            except (OSError, trio.ClosedResourceError):
                data = b""
            finally:
                self.scope = None
                self.door.idle.pop(self, None)
        if scope.cancelled_caught:
            return None
        return data

    def note_fed(self) -> None:
        """After the splitter took bytes: start or stop the head clock."""
        if self.splitter.holding:
            if self.head_started is None:
                self.head_started = trio.current_time()
        else:
            self.head_started = None


class _Hypercorn:
    """hypercorn's HTTP protocol over a connection the front door reads.

    Like ``hypercorn.trio.tcp_server.TCPServer``, with two differences: the
    bytes come from the front door (which may stop at a WebSocket upgrade), and
    the keep-alive timer is the front door's.
    """

    def __init__(self, door: FrontDoor, conn: _Connection) -> None:
        self._door = door
        self._conn = conn
        self._stream = trio.SocketStream(trio.socket.from_stdlib_socket(conn.sock))
        self._send_lock = trio.Lock()
        self._changed = trio.Event()
        self.protocol: ProtocolWrapper

    async def run(
        self, forward: bytes, upgrade: RequestHead | None, rest: bytes
    ) -> tuple[RequestHead, bytes] | None:
        """Serve HTTP from the splitter's first answer on; returns the upgrade to hand
        over (with the bytes after its head) once every earlier request is answered."""
        conn, door = self._conn, self._door
        sock = conn.sock
        handover: tuple[RequestHead, bytes] | None = None
        try:
            client = parse_socket_addr(sock.family, sock.getpeername())
            server = parse_socket_addr(sock.family, sock.getsockname())
        except OSError:
            return None
        async with TaskGroup() as task_group:
            self.protocol = ProtocolWrapper(
                door.app, door.config, door.context, task_group,
                ConnectionState(door.lifespan_state.copy()), False, client, server,
                self._protocol_send, "http/1.1",
            )
            await self.protocol.initiate()
            while True:
                if forward:
                    await self.protocol.handle(RawData(forward))
                if upgrade is not None:
                    if await self._wait_answered():
                        handover = (upgrade, rest)
                    break
                data = await conn.receive()
                if not data:
                    if data == b"":  # the client is done sending
                        held = conn.splitter.flush()
                        if held:
                            await self.protocol.handle(RawData(held))
                        await self.protocol.handle(RawData(b""))
                    break
                forward, upgrade, rest = conn.splitter.feed(data)
                conn.note_fed()
            await self.protocol.handle(Closed())
        return handover

    async def _wait_answered(self) -> bool:
        """Wait until hypercorn has written every answer; False if it closed instead."""
        while self._conn.busy and not self._conn.closing:
            await self._changed.wait()
        return not self._conn.closing

    def _note_change(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def _protocol_send(self, event: Event) -> None:
        conn = self._conn
        if isinstance(event, RawData):
            async with self._send_lock:
                try:
                    with trio.CancelScope(shield=True):
                        await self._stream.send_all(event.data)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    # The client is gone: read no more, and hand nothing over.
                    conn.end()
                    self._note_change()
                    await self.protocol.handle(Closed())
        elif isinstance(event, Closed):
            # hypercorn is done with the connection (Connection: close, an error,
            # shutdown): after its last answer the client sees the end.
            if not conn.closing:
                conn.end()
                with contextlib.suppress(OSError):
                    conn.sock.shutdown(socket.SHUT_WR)
            self._note_change()
            await self.protocol.handle(Closed())
        else:  # Updated: hypercorn sends no other event
            assert isinstance(event, Updated)
            conn.busy = not event.idle
            if event.idle:
                conn.idle_since = trio.current_time()
            conn.refresh()
            self._note_change()


class FrontDoor:
    """Serves ``app`` (ASGI, through hypercorn) and WebSocket upgrades on one port."""

    def __init__(
        self,
        app: Framework,
        config: HypercornConfig,
        upgrades: UpgradeHandler,
        *,
        host: str,
        port: int,
        max_connections: int = 0,
    ) -> None:
        """``max_connections`` 0 means :func:`default_max_connections`; the keep-alive
        timeout is ``config.keep_alive_timeout``."""
        self.app = wrap_app(app, config.wsgi_max_body_size, None)
        self.config = config
        self.keep_alive_timeout = float(config.keep_alive_timeout)
        self.max_connections = max_connections or default_max_connections()
        self._upgrades = upgrades
        self._host = host
        self._port = port
        self.lifespan_state: LifespanState = {}
        self.context = WorkerContext(None)
        self.terminating = False
        #: Connections with nothing to do, oldest first: closed to make room.
        self.idle: dict[_Connection, None] = {}
        self._open = 0
        self._ended = trio.Event()
        self._last_shortage_log = -math.inf
        self._shortages = 0

    @property
    def open_connections(self) -> int:
        """Connections accepted and not yet closed (HTTP and WebSocket)."""
        return self._open

    async def serve(
        self,
        *,
        shutdown_trigger: Callable[..., Awaitable[None]] | None = None,
        task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen until ``shutdown_trigger`` returns, then shut down gracefully.

        Reports ``["http://host:port"]`` through ``task_status`` once listening.
        """
        lifespan = Lifespan(self.app, self.config, self.lifespan_state)
        async with trio.open_nursery() as lifespan_nursery:
            await lifespan_nursery.start(lifespan.handle_lifespan)
            await lifespan.wait_for_startup()
            listener = open_listener(self._host, self._port, self.config.backlog)
            try:
                async with trio.open_nursery() as connections:
                    async with trio.open_nursery() as accepting:
                        accepting.start_soon(self._accept_loop, listener, connections)
                        host, port = listener.getsockname()[:2]
                        shown = f"[{host}]" if ":" in host else host
                        task_status.started([f"http://{shown}:{port}"])
                        if shutdown_trigger is None:
                            await trio.sleep_forever()
                        await shutdown_trigger()
                        accepting.cancel_scope.cancel()
                    _close(listener)
                    self.terminating = True
                    await self.context.terminated.set()
                    for conn in list(self.idle):
                        conn.end()
                    deadline = trio.current_time() + self.config.graceful_timeout
                    with trio.move_on_at(deadline):
                        await self._upgrades.drain()
                    self._upgrades.shutdown()  # whatever the drain did not close in time
                    connections.cancel_scope.deadline = deadline
            finally:
                _close(listener)
            await lifespan.wait_for_shutdown()
            lifespan_nursery.cancel_scope.cancel()

    def _make_room(self) -> bool:
        """Close the longest-idle connection; False if none is idle."""
        for conn in self.idle:
            del self.idle[conn]
            conn.end()
            return True
        return False

    async def _accept_loop(self, listener: socket.socket, connections: trio.Nursery) -> None:
        while True:
            await trio.lowlevel.wait_readable(listener)
            while True:
                try:
                    sock, _ = listener.accept()
                except BlockingIOError:
                    break
                except OSError as exc:
                    # a connection that died inside accept(): a kernel race no test
                    # can provoke over loopback
                    if exc.errno in _ACCEPT_SKIP:  # pragma: no cover
                        continue
                    if exc.errno in _ACCEPT_RETRY_LATER:
                        await self._short_of_descriptors(exc)
                        break
                    raise  # pragma: no cover - no other errno is known to come here
                if self._open >= self.max_connections and not self._make_room():
                    self._refuse_now(sock)
                    continue
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._open += 1
                connections.start_soon(self._route, sock)

    async def _short_of_descriptors(self, exc: OSError) -> None:
        """accept() found no descriptor: free one if a connection is idle, then wait a bit."""
        self._shortages += 1
        now = trio.current_time()
        if now - self._last_shortage_log >= _SHORTAGE_LOG_INTERVAL:
            log.error(
                "accept failed %d time(s) (%s) with %d connections open; closing idle "
                "connections and going on (raise LimitNOFILE or lower [server] maxConnections)",
                self._shortages, exc.strerror, self._open,
            )
            self._last_shortage_log = now
            self._shortages = 0
        self._make_room()
        # A connection ending frees a descriptor; other descriptors (files, the
        # database) free up without telling, hence the bound.
        with trio.move_on_after(0.1):
            await self._ended.wait()

    def _refuse_now(self, sock: socket.socket) -> None:
        """Answer a connection over the cap with 503 and close it, without waiting."""
        try:
            sock.setblocking(False)
            try:
                while sock.recv(MAX_RECV):
                    pass  # read what arrived, so that closing does not reset the answer
            except BlockingIOError:
                pass
            sock.send(refusal_response(503, "too many connections; try again shortly"))
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            sock.close()

    async def _route(self, sock: socket.socket) -> None:
        """Serve one connection; a crash ends that connection only."""
        try:
            await self._serve_connection(sock)
        except Exception:
            log.exception("a connection's handler crashed")
        finally:
            # Whoever served the connection closes it; this catches a handler
            # that was cancelled before it could (at shutdown, for example).
            _close(sock)
            self._open -= 1
            self._ended.set()
            self._ended = trio.Event()

    async def _serve_connection(self, sock: socket.socket) -> None:
        """Read the first request head, then hand the connection on request by request."""
        conn = _Connection(self, sock, RequestSplitter(self._upgrades.wants))
        conn.head_started = conn.idle_since  # the first head's clock runs from the connect
        conn.idle_since = -math.inf
        while True:
            data = await conn.receive()
            if not data:
                return  # gone, too slow, or closed to make room: nothing to answer
            forward, upgrade, rest = conn.splitter.feed(data)
            if upgrade is not None and not forward:
                # The fast path: no hypercorn objects for a connection that is a socket.
                # A session may last for days: this frame keeps nothing of the reading.
                del conn, data
                await self._upgrades.handle(sock, upgrade, rest)
                return
            if forward:
                break
        conn.head_started = None
        conn.note_fed()
        conn.idle_since = trio.current_time()
        handover = await _Hypercorn(self, conn).run(forward, upgrade, rest)
        if handover is not None:
            await self._upgrades.handle(sock, *handover)


async def send_all(sock: socket.socket, data: bytes) -> None:
    """Write all of ``data`` to a non-blocking socket, waiting for room as needed.
    For handshake answers; the caller bounds the wait."""
    view = memoryview(data)
    while view:
        await trio.lowlevel.wait_writable(sock)
        try:
            view = view[sock.send(view) :]
        # a readiness the kernel took back before the write: no test can time it
        except BlockingIOError:  # pragma: no cover
            continue


async def refuse(sock: socket.socket, status: int, reason: str, *headers: str) -> None:
    """Answer a request with ``status`` and the JSON envelope, then close ``sock``."""
    data = refusal_response(status, reason, headers)
    try:
        with trio.move_on_after(HEAD_TIMEOUT_SECONDS):
            await send_all(sock, data)
            # Let the client read the answer before the connection ends.
            sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    finally:
        _close(sock)
