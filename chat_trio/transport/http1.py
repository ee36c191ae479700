"""Where each request ends in what an HTTP/1.1 client sends, sans-I/O.

The front door hands HTTP to hypercorn but must see every request head on a
connection, not only the first: behind a proxy that keeps upstream connections
alive, a WebSocket upgrade arrives as the 2nd or 20th request of a connection
that already carried plain HTTP. :class:`RequestSplitter` follows the client's
bytes: a head, then a body framed by ``Content-Length`` or the chunked transfer
coding (RFC 7230 section 3.3.3), then the next head. Body bytes are counted,
not copied or scanned (only chunk-size lines are read), and a head is parsed in
full only when it carries a body or an ``Upgrade`` header, so HTTP pays per
request, not per byte.

When anything is unusual (a ``Transfer-Encoding`` other than plain ``chunked``,
a bad or repeated ``Content-Length``, bare LF line ends, a head over
``MAX_HEAD_BYTES``, a head that does not parse, a request that may switch
protocols such as one carrying ``Upgrade``) the splitter stops following: every
later byte goes to hypercorn, whose parser answers the request or refuses it
with its own 400, and no later head on that connection is routed elsewhere. So
the front door never sees a request boundary where hypercorn's HTTP parser does
not (no request smuggling past it).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from chat_trio.transport.handshake import MAX_HEAD_BYTES, BadRequest, RequestHead, parse_head

#: The longest chunk-size line (with extensions) followed; longer ones stop following.
MAX_CHUNK_LINE = 4096

_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_NEEDS_PARSE = (b"\r\ncontent-length:", b"\r\ntransfer-encoding:", b"\r\nupgrade:")

# What the splitter is reading.
_HEAD, _BODY, _CHUNK_LINE, _CHUNK_DATA, _TRAILER = range(5)


class RequestSplitter:
    """Follows one connection's request stream and finds the heads to route.

    ``wants(head)`` says whether a complete head goes somewhere else than
    hypercorn (the WebSocket upgrade handler). Feed it every byte the client
    sends, in order; each call says what hypercorn gets now and whether a
    wanted head has arrived.
    """

    def __init__(self, wants: Callable[[RequestHead], bool]) -> None:
        self._wants = wants
        self._state = _HEAD
        self._left = 0  # bytes of body, or of chunk data plus its CRLF, still to come
        self._line = b""  # the part of a chunk-size or trailer line read so far
        self._held = b""  # the start of a head not yet complete
        self._opaque = False

    @property
    def following(self) -> bool:
        """False once the splitter gave up and passes everything to hypercorn."""
        return not self._opaque

    @property
    def holding(self) -> bool:
        """Whether part of a request head has arrived (and is held back)."""
        return bool(self._held)

    @property
    def between_requests(self) -> bool:
        """At a request boundary with nothing of the next head yet."""
        return self._state == _HEAD and not self._held and not self._opaque

    def flush(self) -> bytes:
        """The held part of a head, for hypercorn when the client stops sending."""
        held, self._held = self._held, b""
        return held

    def feed(self, data: bytes) -> tuple[bytes, RequestHead | None, bytes]:
        """Take the next bytes from the client.

        Returns ``(forward, head, rest)``: the bytes hypercorn gets now (whole
        heads and body bytes, in order); a head that ``wants`` takes, which
        comes right after ``forward``, or None; and with it every byte after
        that head (the splitter is then done with the connection). The start
        of an incomplete head is held back until the head is complete.
        """
        if self._opaque:
            return data, None, b""
        buf = self._held + data if self._held else data
        self._held = b""
        pos, end = 0, len(buf)
        while pos < end:
            state = self._state
            if state in (_BODY, _CHUNK_DATA):
                take = min(self._left, end - pos)
                self._left -= take
                pos += take
                if not self._left:
                    self._state = _HEAD if state == _BODY else _CHUNK_LINE
                continue
            if state in (_CHUNK_LINE, _TRAILER):
                pos = self._chunk_line(buf, pos)
                continue
            head_end = buf.find(b"\r\n\r\n", pos)
            if head_end < 0:
                if end - pos > MAX_HEAD_BYTES:
                    self._opaque = True
                    return buf, None, b""
                self._held = buf[pos:]
                return buf[:pos], None, b""
            request = self._head(buf[pos:head_end])
            if request is not None:
                return buf[:pos], request, buf[head_end + 4 :]
            if self._opaque:
                return buf, None, b""
            pos = head_end + 4
        return buf if pos == len(buf) else buf[:pos], None, b""

    def _head(self, head: bytes) -> RequestHead | None:
        """Decide about one complete head: a wanted one is returned; else set the body state."""
        line_end = head.find(b"\r\n")
        request_line = head if line_end < 0 else head[:line_end]
        if head.count(b"\n") != head.count(b"\r\n") or not request_line.endswith(
            (b" HTTP/1.1", b" HTTP/1.0")
        ):
            self._opaque = True
            return None
        lowered = head.lower()
        if not any(name in lowered for name in _NEEDS_PARSE):
            return None  # no body, no upgrade: the next head follows at once
        try:
            request = parse_head(head)
        except BadRequest:
            self._opaque = True
            return None
        if self._wants(request):
            return request
        if request.header("upgrade"):
            self._opaque = True  # hypercorn may switch this connection to another protocol
            return None
        # Presence, not value, decides: an empty Transfer-Encoding or Content-Length
        # is one hypercorn refuses, so the splitter stops following there too.
        if "transfer-encoding" in request.headers:
            if request.tokens("transfer-encoding") != ["chunked"] or (
                "content-length" in request.headers
            ):
                self._opaque = True
            else:
                self._state = _CHUNK_LINE
            return None
        # No Upgrade and no Transfer-Encoding: the head is parsed for its Content-Length.
        length = request.header("content-length")
        if length.isascii() and length.isdigit() and len(length) <= 18:
            self._left = int(length)
            self._state = _BODY if self._left else _HEAD
        else:
            self._opaque = True
        return None

    def _chunk_line(self, buf: bytes, pos: int) -> int:
        """Read (part of) a chunk-size or trailer line; returns where reading goes on."""
        if self._line.endswith(b"\r") and buf.startswith(b"\n", pos):
            line, line_end = self._line[:-1], pos - 1  # the CRLF came in two pieces
        else:
            line_end = buf.find(b"\r\n", pos)
            if line_end < 0:
                self._line += buf[pos:]
                if len(self._line) > MAX_CHUNK_LINE:
                    self._opaque = True
                return len(buf)
            line = self._line + buf[pos:line_end] if self._line else buf[pos:line_end]
        self._line = b""
        if self._state == _TRAILER:
            if not line:
                self._state = _HEAD
        else:
            size = line.split(b";", 1)[0].rstrip(b" \t")
            if not _CHUNK_SIZE.fullmatch(size):
                self._opaque = True
                return len(buf)
            self._left = int(size, 16)
            if self._left:
                self._left += 2  # the CRLF after the chunk data
                self._state = _CHUNK_DATA
            else:
                self._state = _TRAILER
        return line_end + 2
