"""RFC 6455 framing, sans-I/O: server frames out, client frames in.

The server never masks and never fragments, so a frame it sends is a small
header in front of the payload, and the same bytes go to every recipient of
the same payload. A :class:`FrameCache` keeps the last payload it framed and
hands back the same frame object when it is asked again for that very object;
the WebSockets of one server share one (the socket endpoint makes it and
gives it to each), so a fan-out to a thousand members frames once, not a
thousand times.

:class:`FrameReader` takes the bytes a client sent, in whatever pieces they
arrived, and yields whole messages (fragments joined, masks removed) and
control frames. A violation of the protocol raises :class:`FrameError` with
the close code to answer with: 1002 (protocol error), 1007 (text that is not
UTF-8) or 1009 (a message over the size limit, or in more fragments than
allowed, refused as soon as the offending header arrives, before its payload is
buffered).

Memory is bounded in bytes, whatever the client sends: the fragments of a
message are joined into one bytearray as they arrive (no object per fragment,
so a message of empty or one-byte fragments costs its bytes, not 50 bytes per
fragment), a message may have at most ``max_fragments`` fragments, and
:attr:`FrameReader.room` tells the caller how much more it may feed, so that
the received bytes not yet handed out plus the message being assembled never
exceed ``max_message_bytes`` plus one frame header (:data:`MAX_HEADER`) and
one control frame (a ping may come between two fragments).

Unmasking is ``websockets.speedups.apply_mask`` (C, 0.4 ms for 10 MiB); a
pure-Python version with the same output stands in only when that module
cannot be imported.

No extension is ever negotiated, so every RSV bit must be clear.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

CLOSE_PROTOCOL_ERROR = 1002
CLOSE_INVALID_DATA = 1007
CLOSE_TOO_BIG = 1009
#: The code a received close frame without a status body stands for (never sent).
CLOSE_NO_STATUS = 1005

#: The longest header a client frame can have: 2 bytes, 8 of length, 4 of mask.
MAX_HEADER = 14
#: The longest control frame a client can send: a 6-byte header and 125 bytes.
MAX_CONTROL_FRAME = 6 + 125

_U16 = struct.Struct("!H")
_U64 = struct.Struct("!Q")


class FrameError(Exception):
    """The client broke RFC 6455; close the connection with ``code``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code = code
        self.reason = reason


def frame(opcode: int, payload: bytes) -> bytes:
    """One final, unmasked frame (what a server sends)."""
    n = len(payload)
    if n < 126:
        header = bytes((0x80 | opcode, n))
    elif n < 65536:
        header = bytes((0x80 | opcode, 126)) + _U16.pack(n)
    else:
        header = bytes((0x80 | opcode, 127)) + _U64.pack(n)
    return header + payload


class FrameCache:
    """The binary frame of the last payload framed, for the WebSockets that share it.

    The hub hands the same payload object to every session of a fan-out, one
    after the other, so remembering one payload is enough, and the check costs
    the same however many members there are. It is by identity: the cache keeps
    a reference to the last payload, so its id cannot be reused for other bytes
    while it is remembered (at most one payload and one frame are held).
    Not thread-safe: the WebSockets sharing one run in one Trio thread.
    """

    __slots__ = ("_frame", "_payload")

    def __init__(self) -> None:
        self._payload = b""
        self._frame = frame(OP_BINARY, b"")

    def binary_frame(self, payload: bytes) -> bytes:
        """``payload`` as one binary frame; the same object for the same payload object."""
        if payload is not self._payload:
            self._frame = frame(OP_BINARY, payload)
            self._payload = payload
        return self._frame


def close_frame(code: int, reason: str = "") -> bytes:
    """A close frame; the reason is cut to fit the 125-byte control frame limit."""
    body = _U16.pack(code) + reason.encode("utf-8")[:123]
    while True:  # the cut may have split a UTF-8 sequence
        try:
            body[2:].decode("utf-8")
            break
        except UnicodeDecodeError:
            body = body[:-1]
    return frame(OP_CLOSE, body)


def unmask_python(data: bytes | bytearray | memoryview, mask: bytes) -> bytes:
    """XOR ``data`` with the 4-byte ``mask`` repeated, as one big-integer operation.

    The fallback when the C version cannot be imported (52 ms for 10 MiB).
    """
    n = len(data)
    if n == 0:
        return b""
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "little")
    return (int.from_bytes(data, "little") ^ key).to_bytes(n, "little")


_apply_mask: Callable[[bytes | bytearray | memoryview, bytes], bytes]
try:
    from websockets.speedups import apply_mask as _apply_mask
except ImportError:  # pragma: no cover - websockets is a dependency; its C part may be missing
    _apply_mask = unmask_python

#: Whether unmasking runs in C (``websockets.speedups``).
FAST_UNMASK = _apply_mask is not unmask_python


def unmask(data: bytes | bytearray | memoryview, mask: bytes) -> bytes:
    """XOR ``data`` with the 4-byte ``mask`` repeated (RFC 6455 section 5.3)."""
    return _apply_mask(data, mask)


#: Fragments one message may arrive in. Browsers never fragment what they send;
#: a Go client writing through a 4 KiB buffer sends a 10 MiB message in 2,560.
DEFAULT_MAX_FRAGMENTS = 4096


@dataclass(frozen=True, slots=True)
class Received:
    """One whole message or control frame from the client."""

    opcode: int
    payload: bytes


class FrameReader:
    """Turns received bytes into :class:`Received` items.

    Args:
        max_message_bytes: the largest message (all its fragments together)
            accepted; a larger one raises FrameError 1009.
        max_fragments: the most frames one message may come in; one more
            raises FrameError 1009 (see :data:`DEFAULT_MAX_FRAGMENTS`).
    """

    def __init__(
        self, max_message_bytes: int, *, max_fragments: int = DEFAULT_MAX_FRAGMENTS
    ) -> None:
        self._buf = bytearray()
        self._max = max_message_bytes
        self._max_fragments = max_fragments
        #: Received bytes plus the message being joined never exceed this: the
        #: first frame held is either a data frame the limit allows (with its
        #: header) or a control frame, and both fit.
        self._cap = max_message_bytes + MAX_HEADER + MAX_CONTROL_FRAME
        #: The fragments received so far of the message in progress, unmasked.
        self._message = bytearray()
        self._message_opcode = 0  # opcode of the fragmented message in progress
        self._fragments = 0

    def feed(self, data: bytes) -> None:
        """Add received bytes; feed at most :attr:`room` of them to keep the bound."""
        self._buf += data

    @property
    def buffered(self) -> int:
        """Received bytes not handed out yet (the message being joined not included)."""
        return len(self._buf)

    @property
    def room(self) -> int:
        """How many more bytes may be fed now without passing the bound.

        When it is 0, :meth:`next` has a whole frame to return (or raises): a
        frame the limits allow is never longer than the room the bound leaves.
        """
        return max(0, self._cap - len(self._buf) - len(self._message))

    def next(self) -> Received | None:
        """The next complete item, or None until more bytes are fed.

        Raises:
            FrameError: the bytes break the protocol or a limit.
        """
        while True:
            buf = self._buf
            have = len(buf)
            if have < 2:
                return None
            b0, b1 = buf[0], buf[1]
            if b0 & 0x70:
                raise FrameError(CLOSE_PROTOCOL_ERROR, "reserved bits set without an extension")
            if not b1 & 0x80:
                raise FrameError(CLOSE_PROTOCOL_ERROR, "client frames must be masked")
            fin = b0 & 0x80
            opcode = b0 & 0x0F
            length = b1 & 0x7F
            pos = 2
            if length == 126:
                if have < 4:
                    return None
                length = _U16.unpack_from(buf, 2)[0]
                pos = 4
            elif length == 127:
                if have < 10:
                    return None
                length = _U64.unpack_from(buf, 2)[0]
                if length >> 63:
                    raise FrameError(CLOSE_PROTOCOL_ERROR, "frame length out of range")
                pos = 10
            if opcode >= OP_CLOSE:
                if opcode > OP_PONG:
                    raise FrameError(CLOSE_PROTOCOL_ERROR, f"unknown opcode {opcode}")
                if not fin or length > 125:
                    raise FrameError(CLOSE_PROTOCOL_ERROR, "control frames are short and whole")
            else:
                if opcode > OP_BINARY:
                    raise FrameError(CLOSE_PROTOCOL_ERROR, f"unknown opcode {opcode}")
                if (opcode == OP_CONTINUATION) != bool(self._message_opcode):
                    raise FrameError(CLOSE_PROTOCOL_ERROR, "fragments out of order")
                if len(self._message) + length > self._max:
                    raise FrameError(
                        CLOSE_TOO_BIG, f"message larger than {self._max} bytes"
                    )
                if self._fragments >= self._max_fragments:
                    raise FrameError(
                        CLOSE_TOO_BIG, f"message in more than {self._max_fragments} fragments"
                    )
            end = pos + 4 + length
            if have < end:
                return None
            mask = bytes(buf[pos : pos + 4])
            with memoryview(buf) as view:
                payload = unmask(view[pos + 4 : end], mask)
            del buf[:end]
            if opcode >= OP_CLOSE:
                return Received(opcode, payload)
            if fin and opcode == OP_CONTINUATION:
                self._message += payload
                whole = Received(self._message_opcode, bytes(self._message))
                self._message = bytearray()
                self._message_opcode = 0
                self._fragments = 0
                return _checked(whole)
            if fin:
                return _checked(Received(opcode, payload))
            if opcode != OP_CONTINUATION:
                self._message_opcode = opcode
            self._message += payload
            self._fragments += 1


def _checked(message: Received) -> Received:
    if message.opcode == OP_TEXT:
        try:
            message.payload.decode("utf-8")
        except UnicodeDecodeError:
            raise FrameError(CLOSE_INVALID_DATA, "text frame is not UTF-8") from None
    return message


def parse_close(payload: bytes) -> tuple[int, str]:
    """The (code, reason) of a received close frame.

    Raises:
        FrameError: 1002 for a body of one byte or a code a peer may not send,
            1007 for a reason that is not UTF-8.
    """
    if not payload:
        return CLOSE_NO_STATUS, ""
    if len(payload) < 2:
        raise FrameError(CLOSE_PROTOCOL_ERROR, "close frame body of one byte")
    code = _U16.unpack_from(payload)[0]
    if not ((1000 <= code <= 1014 and code not in (1004, 1005, 1006)) or 3000 <= code <= 4999):
        raise FrameError(CLOSE_PROTOCOL_ERROR, f"close code {code} is not allowed")
    try:
        reason = payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise FrameError(CLOSE_INVALID_DATA, "close reason is not UTF-8") from None
    return code, reason
