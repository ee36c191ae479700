"""The front door: one listening port for the HTTP API and the WebSocket.

It accepts TCP connections itself, reads each one's first request head, and
routes the connection by it:

- ``GET /socket.io`` asking for a WebSocket upgrade goes to the upgrade handler
  (api/socket.py), which checks the login token, answers the handshake and runs
  the session over the connection's own socket (websocket.py);
- everything else is handed, with the bytes already read, to hypercorn's Trio
  connection handler, exactly as if hypercorn had accepted it: HTTP/1.1 with
  keep-alive, uploads, the web client.

Hypercorn's application lifespan (quart-trio's startup and shutdown, which own
``app.nursery``) runs around the listener as in ``hypercorn.trio.serve``.

Shutdown, when ``shutdown_trigger`` returns: the listener closes first, then
hypercorn's connections are told to finish and the upgrade handler drains its
sessions (they stop reading; what they sent is stored and acked) and closes them
(code 1001); whatever still runs after ``graceful_timeout`` seconds is cancelled.
"""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio.lifespan import Lifespan
from hypercorn.trio.tcp_server import TCPServer
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.typing import ConnectionState, LifespanState
from hypercorn.utils import wrap_app

from chat_trio.transport.handshake import (
    MAX_HEAD_BYTES,
    BadRequest,
    RequestHead,
    parse_head,
    refusal_response,
)

log = logging.getLogger(__name__)

#: How long a new connection may take to send its first request head.
HEAD_TIMEOUT_SECONDS = 10.0

#: accept() errors that mean "out of a resource, try again soon" (as trio's SocketListener).
_ACCEPT_RETRY_LATER = {errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS}
#: accept() errors about one connection that died before it was accepted.
_ACCEPT_SKIP = {errno.ECONNABORTED, errno.EPROTO, errno.EPERM, errno.EINTR}


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


class PrefixedStream(trio.abc.HalfCloseableStream):
    """A SocketStream that first returns bytes already read from it.

    Hypercorn reads the request from here as if nothing had been read yet. It
    also reads ``.socket`` for the peer and local addresses.
    """

    def __init__(self, stream: trio.SocketStream, prefix: bytes) -> None:
        self._stream = stream
        self._prefix = prefix
        self.socket = stream.socket

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self._prefix:
            await trio.lowlevel.checkpoint()
            if max_bytes is None or max_bytes >= len(self._prefix):
                data, self._prefix = self._prefix, b""
            else:
                data, self._prefix = self._prefix[:max_bytes], self._prefix[max_bytes:]
            return data
        return await self._stream.receive_some(max_bytes)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self._stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        # Hypercorn closes a connection whose response said `Connection: close`
        # with send_eof() then aclose(), from inside the application's task; and
        # quart-trio cancels that task as soon as hypercorn reports the stream
        # closed, in the same call chain. Unshielded, send_eof's checkpoint raised
        # Cancelled, aclose() never ran, and a refused upload's connection stayed
        # open reading the rest of its body.
        with trio.CancelScope(shield=True):
            await self._stream.send_eof()

    async def aclose(self) -> None:
        await self._stream.aclose()


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


async def read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """Read until the end of the first request head.

    Returns the head (without its blank line) and every byte read after it.
    Raises BadRequest when the head is too long or the connection ends first.
    Checkpoints: waits for the socket to be readable.
    """
    data = b""
    while True:
        await trio.lowlevel.wait_readable(sock)
        try:
            chunk = sock.recv(MAX_HEAD_BYTES)
        except BlockingIOError:
            continue
        except OSError:
            raise BadRequest("connection failed") from None
        if not chunk:
            raise BadRequest("connection closed before the request head ended")
        data += chunk
        end = data.find(b"\r\n\r\n")
        if end >= 0:
            return data[:end], data[end + 4 :]
        if len(data) > MAX_HEAD_BYTES:
            raise BadRequest("request head too long")


def _close(sock: socket.socket) -> None:
    trio.lowlevel.notify_closing(sock)
    sock.close()


class FrontDoor:
    """Serves ``app`` (ASGI, through hypercorn) and WebSocket upgrades on one port."""

    def __init__(
        self,
        app: Any,
        config: HypercornConfig,
        upgrades: UpgradeHandler,
        *,
        host: str,
        port: int,
    ) -> None:
        self._app = wrap_app(app, config.wsgi_max_body_size, None)
        self._config = config
        self._upgrades = upgrades
        self._host = host
        self._port = port
        self._lifespan_state: LifespanState = {}
        self._context = WorkerContext(None)

    async def serve(
        self,
        *,
        shutdown_trigger: Callable[..., Awaitable[None]] | None = None,
        task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen until ``shutdown_trigger`` returns, then shut down gracefully.

        Reports ``["http://host:port"]`` through ``task_status`` once listening.
        """
        lifespan = Lifespan(self._app, self._config, self._lifespan_state)
        async with trio.open_nursery() as lifespan_nursery:
            await lifespan_nursery.start(lifespan.handle_lifespan)
            await lifespan.wait_for_startup()
            listener = open_listener(self._host, self._port, self._config.backlog)
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
                    await self._context.terminated.set()
                    deadline = trio.current_time() + self._config.graceful_timeout
                    with trio.move_on_at(deadline):
                        await self._upgrades.drain()
                    self._upgrades.shutdown()  # whatever the drain did not close in time
                    connections.cancel_scope.deadline = deadline
            finally:
                if listener.fileno() >= 0:
                    _close(listener)
            await lifespan.wait_for_shutdown()
            lifespan_nursery.cancel_scope.cancel()

    async def _accept_loop(self, listener: socket.socket, connections: trio.Nursery) -> None:
        while True:
            await trio.lowlevel.wait_readable(listener)
            while True:
                try:
                    sock, _ = listener.accept()
                except BlockingIOError:
                    break
                except OSError as exc:
                    if exc.errno in _ACCEPT_SKIP:
                        continue
                    if exc.errno in _ACCEPT_RETRY_LATER:
                        log.error("accept failed (%s); retrying in 0.1 s", exc)
                        await trio.sleep(0.1)
                        break
                    raise
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                connections.start_soon(self._route, sock)

    async def _route(self, sock: socket.socket) -> None:
        """Serve one connection; a crash ends that connection only."""
        try:
            await self._route_unguarded(sock)
        except Exception:
            log.exception("a connection's handler crashed")
        finally:
            # Whoever served the connection closes it; this catches a handler
            # that was cancelled before it could (at shutdown, for example).
            if sock.fileno() >= 0:
                _close(sock)

    async def _route_unguarded(self, sock: socket.socket) -> None:
        """Read the first request head and pass the connection on."""
        try:
            with trio.fail_after(HEAD_TIMEOUT_SECONDS):
                head, rest = await read_head(sock)
        except (BadRequest, trio.TooSlowError):
            _close(sock)
            return
        except BaseException:
            _close(sock)
            raise
        try:
            request: RequestHead | None = parse_head(head)
        except BadRequest:
            request = None  # hypercorn answers it with a 400
        if request is not None and self._upgrades.wants(request):
            await self._upgrades.handle(sock, request, rest)
            return
        stream = PrefixedStream(
            trio.SocketStream(trio.socket.from_stdlib_socket(sock)), head + b"\r\n\r\n" + rest
        )
        await TCPServer(
            self._app,
            self._config,
            self._context,
            ConnectionState(self._lifespan_state.copy()),
            stream,  # type: ignore[arg-type]  # hypercorn annotates SSLStream, accepts any stream
        ).run()


async def send_all(sock: socket.socket, data: bytes) -> None:
    """Write all of ``data`` to a non-blocking socket, waiting for room as needed.
    For handshake answers; the caller bounds the wait."""
    view = memoryview(data)
    while view:
        await trio.lowlevel.wait_writable(sock)
        try:
            view = view[sock.send(view) :]
        except BlockingIOError:
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
