"""One client connection: a nursery holding a reader task and a writer task.

The reader decodes frames and hands each to the intake. The hub reaches the
session only through ``deliver()``, which is synchronous and never waits: it
hands the bytes to the transport's ``send_nowait``, which writes them straight
to the socket when the socket can take them and otherwise queues them in a
bounded backlog, in order, behind whatever is queued already. The writer task
owns that backlog: it sleeps until there is one and writes it when the socket
is writable. So the common case, a client that keeps up, costs one ``send()``
and no task switch; the writer only works for clients that fall behind.

When the backlog is full (in frames or in bytes) the client is not keeping up: the session is closed
with code 1013 and the hub moves on, never waiting. When either task ends, the
nursery cancels the other, the session unregisters (exactly once, in
``finally``) and the connection closes with the session's close code: 1000
normal, 1001 server shutting down, 1008 policy, 1009 frame too big, 1011
internal error, 1013 slow consumer, or the code the client closed with.

The socket is behind the small ``Transport`` protocol so that the WebSocket
implementation can change without touching this module or the hub.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Final, Protocol

import trio

from chat_trio import codec
from chat_trio.errors import ProtocolError
from chat_trio.hub import HubEvent, Register, Unregister
from chat_trio.model import FrameType, User
from chat_trio.transport.websocket import TransportClosed

log = logging.getLogger(__name__)

#: Close codes this module uses (RFC 6455 section 7.4).
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL = 1011
CLOSE_TRY_AGAIN_LATER = 1013

_session_ids = itertools.count(1)

__all__ = ["Session", "Transport", "TransportClosed"]


class Transport(Protocol):
    """A message-oriented connection to one client."""

    async def receive(self) -> bytes | str:
        """The next message. Raises TransportClosed when the connection is gone."""
        ...

    def receive_nowait(self) -> bytes | str | None:
        """The next message if one is already buffered, else None; never waits.
        Raises TransportClosed as ``receive`` does."""
        ...

    def send_nowait(self, data: bytes) -> None:
        """Send one binary message now, or queue it behind those already queued.

        Raises:
            trio.WouldBlock: the queue is full (the client is not keeping up).
            TransportClosed: the connection is closing or gone.
        """
        ...

    async def run_writer(self) -> None:
        """Write queued messages as the socket takes them; return when the connection
        is done. Run by the session's writer task only."""
        ...

    def set_writer_hook(self, hook: Callable[[], None] | None) -> None:
        """Call ``hook()`` once, the first time there is anything for ``run_writer``
        to do (queued messages, a broken connection, the close); None: never."""
        ...

    async def close(self, code: int, reason: str) -> None:
        """Close the connection (best effort; never raises)."""
        ...


#: Handles one decoded frame from a session (the intake); raises ProtocolError to refuse it.
FrameHandler = Callable[["Session", codec.Message], Awaitable[None]]


class Session:
    """A live connection of one authenticated user."""

    def __init__(
        self,
        user: User,
        transport: Transport,
        *,
        hub_inbox: trio.MemorySendChannel[HubEvent],
        handle_frame: FrameHandler,
        idle_timeout: float = float("inf"),
        login_expires_at: float = math.inf,
        features: frozenset[str] = frozenset(),
    ) -> None:
        # Who the session is, not their profile: the profile can change while the
        # session is open, so the intake asks the directory for it (directory.py).
        self.user_uuid: Final = user.uuid
        self.user_id: Final = user.id
        #: The optional frames it asked for at the handshake (chat_trio/features.py).
        self.features: Final = features
        #: For the logs only (a username never changes).
        self.username: Final = user.username
        self.id = next(_session_ids)
        self._transport = transport
        self._hub_inbox = hub_inbox
        self._handle_frame = handle_frame
        self._cancel_scope: trio.CancelScope | None = None
        self._close_code = CLOSE_NORMAL
        self._close_reason = ""
        self._closing = False
        self._idle_timeout = idle_timeout
        #: trio.current_time() at which the session's login expires: the session's
        #: own cancel scope ends there (closed 1008), no task or timer of its own.
        self._login_expires_at = login_expires_at
        # Graceful shutdown: stop reading (finishing a frame already received),
        # keep writing until the server has stored and acked what it got.
        self._draining = False
        self._receive_scope: trio.CancelScope | None = None
        #: Set once this session reads no more frames.
        self.reading_done = trio.Event()

    @property
    def close_code(self) -> int:
        """The code the connection is (or will be) closed with."""
        return self._close_code

    def __repr__(self) -> str:
        return f"<Session {self.id} of {self.username}>"

    def deliver(self, payload: bytes) -> bool:
        """Send ``payload`` to the client, or queue it. Never blocks.

        Returns False when the session is closed, or when its backlog is full:
        then the session is closed as a slow consumer (code 1013) right away.
        """
        if self._closing:
            return False
        try:
            self._transport.send_nowait(payload)
        except trio.WouldBlock:
            log.info("%r: backlog full, closing as a slow consumer", self)
            self.close(CLOSE_TRY_AGAIN_LATER, "slow consumer: too much undelivered")
            return False
        except TransportClosed:
            self.close(CLOSE_NORMAL, "")
            return False
        return True

    def stop_reading(self) -> None:
        """Read no more frames; the connection stays open until ``close``. Synchronous."""
        self._draining = True
        if self._receive_scope is not None:
            self._receive_scope.cancel()

    def close(self, code: int, reason: str) -> None:
        """End the session soon, closing the connection with ``code``. Synchronous."""
        if not self._closing:
            self._closing = True
            self._close_code, self._close_reason = code, reason
        if self._cancel_scope is not None:
            self._cancel_scope.cancel()

    async def run(self) -> None:
        """Serve the connection until it closes; registers with the hub meanwhile."""
        log.info("%r: open", self)
        await self._hub_inbox.send(Register(self))
        try:
            async with trio.open_nursery() as nursery:
                self._cancel_scope = nursery.cancel_scope
                nursery.cancel_scope.deadline = self._login_expires_at
                if self._closing:  # closed before the nursery existed
                    nursery.cancel_scope.cancel()
                scope = nursery.cancel_scope
                # The writer task only when the transport has work for it: a client
                # that keeps up is written to directly and never needs one.
                self._transport.set_writer_hook(
                    lambda: nursery.start_soon(self._writer, scope)
                )
                try:
                    await self._reader()
                    if self._draining and not self._closing:
                        # Acks for what was read may still be coming: keep writing
                        # until the server closes this session.
                        self.reading_done.set()
                        await trio.sleep_forever()
                    nursery.cancel_scope.cancel()
                finally:
                    # The nursery takes no new task once this block is left.
                    self._transport.set_writer_hook(None)
            if not self._closing and trio.current_time() >= self._login_expires_at:
                log.info("%r: closing, login expired", self)
                self._closing = True
                self._close_code, self._close_reason = CLOSE_POLICY, "login expired"
        except Exception:
            log.exception("%r: crashed", self)
            self._close_code, self._close_reason = CLOSE_INTERNAL, "internal error"
        finally:
            self._closing = True
            self.reading_done.set()
            with trio.CancelScope(shield=True):
                await self._hub_inbox.send(Unregister(self))
                with trio.move_on_after(2):
                    await self._transport.close(self._close_code, self._close_reason)
            log.info("%r: closed (%d %s)", self, self._close_code, self._close_reason)

    async def _reader(self) -> None:
        transport = self._transport
        while not self._draining:
            try:
                # A frame already buffered needs no wait, so no idle timer: under load
                # most frames come this way, and a cancel scope per frame was a tenth
                # of the reader's time (profile of the 1:1 benchmark).
                frame = transport.receive_nowait()
            except TransportClosed as closed:
                self._closed_by_peer(closed)
                return
            if frame is None:
                with trio.move_on_after(self._idle_timeout) as scope:
                    self._receive_scope = scope
                    try:
                        frame = await transport.receive()
                    except TransportClosed as closed:
                        self._closed_by_peer(closed)
                        return
                    finally:
                        self._receive_scope = None
                if frame is None:  # the scope ended the wait: idle, or stop_reading()
                    if not self._draining:
                        log.info("%r: idle for %.0f s, closing", self, self._idle_timeout)
                        self.close(CLOSE_NORMAL, "idle: no frame, not even a heartbeat")
                    return
            message: codec.Message | None = None
            try:
                message = codec.decode(frame)
                if message.type == FrameType.HEARTBEAT:
                    self.deliver(codec.pong_frame())
                    continue
                await self._handle_frame(self, message)
            except ProtocolError as refused:
                client_id = message.clientId if message is not None else ""
                log.debug("%r: refused a frame: %s", self, refused.reason)
                self.deliver(
                    codec.error_frame(refused.code, refused.reason, client_id, refused.key)
                )

    def _closed_by_peer(self, closed: TransportClosed) -> None:
        if closed.code is not None and not self._closing:
            self._closing = True
            self._close_code, self._close_reason = closed.code, closed.reason

    async def _writer(self, scope: trio.CancelScope) -> None:
        with contextlib.suppress(TransportClosed):
            await self._transport.run_writer()
        scope.cancel()
