"""A server-side WebSocket over a non-blocking socket it owns, with a synchronous send.

Why: an awaited send per frame (wake the writer task, then Trio's send path)
costs more than everything else a delivery does. Here the hub's synchronous
``deliver()`` reaches :meth:`WebSocket.send_nowait`, which frames the payload
(once per distinct payload for all the sockets sharing a
:class:`~chat_trio.transport.frames.FrameCache`) and writes it straight to the
kernel with one non-blocking ``send()`` when nothing is queued before it. Only
what the socket cannot take right now goes to the backlog, and only then does
the writer task (:meth:`WebSocket.run_writer`) have work: it waits until the
socket is writable and writes the backlog, several frames per ``sendmsg()``.

Why it is correct:

- Order. A frame is written directly only when the backlog is empty, and the
  socket has one writer at a time (Trio runs one task at a time, and neither
  ``send_nowait`` nor the writer's flush awaits between taking the backlog and
  accounting for what the kernel took). Once anything is in the backlog, every
  later frame is appended behind it. So bytes reach the socket in the order
  the frames were sent, and a frame the kernel took only in part is finished
  before any other byte is written.
- Bound. The backlog holds at most ``max_backlog_frames`` frames and
  ``max_backlog_bytes`` bytes (a partly written head frame counts whole: it is
  held whole); a frame that would pass either raises ``trio.WouldBlock`` and
  the caller cuts the client off as a slow consumer (code 1013). The count is
  kept as frames come and go, so the check costs the same for any backlog. A
  frame that finds the backlog empty is always taken, whatever its size: the
  bytes limit must be at least the largest frame the server sends (config
  validation sees to that for relayed frames). The kernel's socket buffer
  comes first, so a client that keeps up never touches the backlog.
- Receiving. Each ``recv`` asks for no more than the frame reader has room for
  (frames.py), so the bytes read but not handed out stay within one message
  plus a header, however long a frame the client announces.
- Closing. :meth:`close` drops the frames not started yet, finishes a frame
  that was written in part, then sends the close frame; :meth:`aclose` then
  waits (bounded) for the client's close frame or end of stream and closes the
  socket. A client's close frame is answered with the same code.
- Trio. ``receive`` and ``run_writer`` wait with ``trio.lowlevel.wait_readable``
  and ``wait_writable`` (one reader task and one writer task per socket, as
  Trio requires); ``send_nowait`` never waits. The socket is closed with
  ``trio.lowlevel.notify_closing`` first, once, in :meth:`aclose`.
"""

from __future__ import annotations

import collections
import logging
import socket
from collections.abc import Callable

import trio

from chat_trio.transport import frames
from chat_trio.transport.frames import FrameError

log = logging.getLogger(__name__)

#: Bytes asked of the kernel per ``recv``.
RECEIVE_BYTES = 64 * 1024
#: At most this many frames go into one ``sendmsg`` (well under IOV_MAX).
GATHER_FRAMES = 64
#: After the close frame is sent, how long to wait for the client's answer.
CLOSE_WAIT_SECONDS = 5.0
#: The backlog of every connection that never had to queue a frame: always empty
#: (``_own_backlog`` replaces it before anything is appended).
_NO_BACKLOG: collections.deque[bytes] = collections.deque()


class TransportClosed(Exception):
    """The connection is gone or closing, or the client broke the protocol.

    ``code`` is the close code to answer with when one is known (the client's
    own close code, 1002, 1007 or 1009); None when the connection is simply gone.
    """

    def __init__(self, code: int | None = None, reason: str = "") -> None:
        super().__init__(f"{code} {reason}" if code else "connection closed")
        self.code = code
        self.reason = reason


class WebSocket:
    """One accepted WebSocket connection (the handshake is already done).

    Args:
        sock: the connected stdlib socket; it is made non-blocking and this
            object owns it from now on (``aclose`` closes it).
        max_message_bytes: the largest message accepted (close code 1009 above).
        max_backlog_frames: frames queued behind a full socket before
            ``send_nowait`` raises ``trio.WouldBlock``.
        max_backlog_bytes: bytes of those frames past which ``send_nowait``
            raises ``trio.WouldBlock``.
        max_fragments: frames one received message may come in (1009 above).
        frame_cache: frames what ``send_nowait`` sends; the WebSockets of one
            server share one, so a fan-out frames each payload once.
        buffered: bytes already read past the handshake (the client may send
            its first frame right behind it).
    """

    def __init__(
        self,
        sock: socket.socket,
        *,
        max_message_bytes: int,
        max_backlog_frames: int,
        max_backlog_bytes: int,
        frame_cache: frames.FrameCache,
        max_fragments: int = frames.DEFAULT_MAX_FRAGMENTS,
        buffered: bytes = b"",
    ) -> None:
        sock.setblocking(False)
        self._sock = sock
        self._frames = frame_cache
        self._reader = frames.FrameReader(max_message_bytes, max_fragments=max_fragments)
        if buffered:
            self._reader.feed(buffered)
        self._max_backlog = max_backlog_frames
        self._max_backlog_bytes = max_backlog_bytes
        #: Frames not written yet, oldest first; the first may be partly written.
        #: The shared empty ``_NO_BACKLOG`` until a frame first has to wait: an idle
        #: connection does not pay for a deque's first block (about 700 bytes).
        self._backlog: collections.deque[bytes] = _NO_BACKLOG
        #: Bytes of the frames in ``_backlog``, the partly written head whole.
        self._backlog_bytes = 0
        #: Bytes of ``_backlog[0]`` already written.
        self._head_sent = 0
        #: What the writer task waits on, made only while it waits.
        self._wakeup: trio.Event | None = None
        #: Called once, the first time there is work for a writer task (see
        #: :meth:`set_writer_hook`); None once called, or when nobody asked.
        self._writer_hook: Callable[[], None] | None = None
        self._broken = False  # the socket failed; nothing more can be written
        self._closing = False  # the close frame is queued or sent; no more data frames
        self._peer_closed = False  # the client's close frame arrived
        self._sock_closed = False  # aclose began: it closes the socket
        self.close_code: int | None = None

    # -- sending ------------------------------------------------------------------

    def send_nowait(self, payload: bytes) -> None:
        """Send ``payload`` as a binary frame, now if the socket takes it, else queued.

        Synchronous, never waits.

        Raises:
            trio.WouldBlock: the backlog already holds its maximum of frames,
                or this frame would take it past its maximum of bytes.
            TransportClosed: the connection is closing or broken.
        """
        if self._closing or self._broken:
            raise TransportClosed(self.close_code)
        self._send_frame(self._frames.binary_frame(payload))

    def _send_frame(self, data: bytes) -> None:
        backlog = self._backlog
        if backlog:
            size = self._backlog_bytes + len(data)
            if len(backlog) >= self._max_backlog or size > self._max_backlog_bytes:
                raise trio.WouldBlock
            backlog.append(data)
            self._backlog_bytes = size
            return
        try:
            sent = self._sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            self._break(exc)
            raise TransportClosed() from None
        if sent < len(data):
            backlog = self._own_backlog()
            backlog.append(data)
            self._backlog_bytes = len(data)
            self._head_sent = sent
            self._wake()

    def set_writer_hook(self, hook: Callable[[], None] | None) -> None:
        """Have ``hook()`` called (once, synchronously) the first time a writer task
        has work: a backlog, a broken socket, or the close frame to send.

        So a connection whose client keeps up never needs a writer task at all (a
        sleeping task is about 2.4 KB); the session starts it from the hook.
        """
        self._writer_hook = hook

    def _wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()
        hook = self._writer_hook
        if hook is not None:
            self._writer_hook = None
            hook()

    def _own_backlog(self) -> collections.deque[bytes]:
        """The connection's own backlog, made on first use (never append to the shared one)."""
        if self._backlog is _NO_BACKLOG:
            self._backlog = collections.deque()
        return self._backlog

    def _flush_nowait(self) -> bool:
        """Write as much of the backlog as the socket takes; True when it is empty."""
        backlog = self._backlog
        sock = self._sock
        while backlog:
            if len(backlog) == 1:
                chunks: list[bytes | memoryview] = [memoryview(backlog[0])[self._head_sent :]]
            else:
                chunks = [memoryview(backlog[0])[self._head_sent :]]
                for i in range(1, min(len(backlog), GATHER_FRAMES)):
                    chunks.append(backlog[i])
            try:
                sent = sock.sendmsg(chunks)
            except BlockingIOError:
                return False
            except OSError as exc:
                self._break(exc)
                return True
            sent += self._head_sent
            while backlog and sent >= len(backlog[0]):
                done = len(backlog.popleft())
                sent -= done
                self._backlog_bytes -= done
            self._head_sent = sent
            if backlog and sent:
                return False  # the kernel took part of a frame: it is full
        return True

    @property
    def backlog_frames(self) -> int:
        """Frames waiting for the socket (a partly written one included)."""
        return len(self._backlog)

    @property
    def backlog_bytes(self) -> int:
        """Bytes of the frames waiting for the socket (a partly written one whole)."""
        return self._backlog_bytes

    async def run_writer(self) -> None:
        """Write the backlog whenever there is one, until the connection is done.

        The connection's one writer task runs this; it returns when the socket
        broke or the close frame was written. Checkpoints: waits on an event and
        on the socket being writable.
        """
        while True:
            while not self._flush_nowait():
                await trio.lowlevel.wait_writable(self._sock)
            if self._broken or (self._closing and not self._backlog):
                return
            # No checkpoint since the checks above: nothing can wake us in between.
            self._wakeup = trio.Event()
            await self._wakeup.wait()
            self._wakeup = None

    def _break(self, exc: OSError) -> None:
        if not self._broken:
            log.debug("socket failed: %s", exc)
        self._broken = True
        self._backlog.clear()
        self._backlog_bytes = 0
        self._head_sent = 0
        self._wake()

    # -- receiving ----------------------------------------------------------------

    async def receive(self) -> bytes | str:
        """The next message: bytes for a binary frame, str for a text frame.

        Pings are answered, pongs ignored. Checkpoints at least once per read
        from the socket; a message already buffered is returned without one.

        Raises:
            TransportClosed: the client closed (``code`` is its close code), or
                broke the protocol (``code`` is the code to close with), or the
                connection broke (``code`` is None).
        """
        while True:
            message = self.receive_nowait()
            if message is not None:
                return message
            await self._receive_some()

    def receive_nowait(self) -> bytes | str | None:
        """The next message if one is already buffered, else None; never waits.

        Control frames buffered before it are handled on the way (pings answered,
        pongs ignored, a close raised), as :meth:`receive` does.

        Raises:
            TransportClosed: as for :meth:`receive`.
        """
        reader = self._reader
        while True:
            try:
                item = reader.next()
            except FrameError as exc:
                raise TransportClosed(exc.code, exc.reason) from None
            if item is None:
                return None
            opcode = item.opcode
            if opcode == frames.OP_BINARY:
                return item.payload
            if opcode == frames.OP_TEXT:
                return item.payload.decode("utf-8")
            if opcode == frames.OP_PING:
                if not (self._closing or self._broken):
                    try:
                        self._send_frame(frames.frame(frames.OP_PONG, item.payload))
                    except trio.WouldBlock:
                        pass  # a client that does not read its pongs loses them
                    except TransportClosed:
                        pass
            elif opcode == frames.OP_CLOSE:
                self._peer_closed = True
                try:
                    code, reason = frames.parse_close(item.payload)
                except FrameError as exc:
                    raise TransportClosed(exc.code, exc.reason) from None
                # Answer with the client's own code (1005 "no code" is answered 1000).
                raise TransportClosed(1000 if code == frames.CLOSE_NO_STATUS else code, reason)

    async def _receive_some(self) -> None:
        await trio.lowlevel.checkpoint_if_cancelled()
        waited = False
        # Never more than the reader may hold: a frame that claims 10 MiB makes
        # the server hold at most that frame, not 64 KiB of what follows it too.
        want = min(RECEIVE_BYTES, self._reader.room)
        assert want > 0, "a full reader always has a frame to hand out"
        while True:
            try:
                data = self._sock.recv(want)
                break
            except BlockingIOError:
                waited = True
                await trio.lowlevel.wait_readable(self._sock)
            except OSError as exc:
                self._break(exc)
                raise TransportClosed() from None
        if not waited:
            await trio.lowlevel.cancel_shielded_checkpoint()
        if not data:
            raise TransportClosed()
        self._reader.feed(data)

    # -- closing ------------------------------------------------------------------

    def start_close(self, code: int, reason: str = "") -> None:
        """Queue the close frame: frames not started are dropped, a partial one is finished.

        Synchronous; the writer (or :meth:`aclose`) sends it. Idempotent.
        """
        if self._closing:
            return
        self._closing = True
        self.close_code = code
        if self._broken:
            return
        backlog = self._own_backlog()
        if self._head_sent:
            head = backlog[0]
            backlog.clear()
            backlog.append(head)
        else:
            backlog.clear()
        backlog.append(frames.close_frame(code, reason))
        self._backlog_bytes = sum(len(f) for f in backlog)  # two frames at most
        self._wake()
        self._flush_nowait()

    async def close(self, code: int, reason: str = "") -> None:
        """Send the close frame and wait until it is written (bounded by the caller)."""
        self.start_close(code, reason)
        while not self._flush_nowait():
            await trio.lowlevel.wait_writable(self._sock)

    async def aclose(self) -> None:
        """Finish the close handshake within CLOSE_WAIT_SECONDS, then close the socket.

        Sends the close frame (code 1000 if none was queued), waits for the
        client's close frame or end of stream, and closes the socket even when
        cancelled. Idempotent: a later call, or one made while the first is still
        closing, returns at once (two would otherwise read the socket together).
        """
        if self._sock_closed:
            return
        self._sock_closed = True
        try:
            with trio.move_on_after(CLOSE_WAIT_SECONDS) as scope:
                scope.shield = True
                if not self._broken:
                    await self.close(1000)
                    if not self._peer_closed:
                        with trio.move_on_after(1.0):
                            await self._drain_until_closed()
        finally:
            self._close_socket()

    async def _drain_until_closed(self) -> None:
        """Read and drop frames until the client's close frame or end of stream."""
        try:
            self._sock.shutdown(socket.SHUT_WR)
        except OSError:
            return
        while True:
            try:
                await self.receive()
            except TransportClosed:
                return

    def _close_socket(self) -> None:
        self._broken = True
        trio.lowlevel.notify_closing(self._sock)
        self._sock.close()
