"""A multipart/form-data upload read as it arrives, the file part streamed to disk.

Quart would parse the whole form before a route sees it: a chunked body (no
Content-Length) was read to its end before any limit applied. Here the body is
counted chunk by chunk while werkzeug's sans-I/O decoder splits it: the bytes of
the ``file`` field go straight to an :class:`~chat_trio.files.Incoming` (which
writes them to a part file), other fields are kept if small, and the read stops
with a 413 as soon as the body passes ``limit``, without reading the rest.
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from dataclasses import dataclass, field

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from chat_trio.errors import ProtocolError
from chat_trio.files import Incoming

#: Parts one upload may have (the file, a uuid, and room for a client's extras).
MAX_PARTS = 16
#: Longest value of a field that is not the file.
MAX_FIELD_BYTES = 1024
#: The field that carries the file (go-chat's name).
FILE_FIELD = "file"


@dataclass
class Form:
    """What the upload held besides the file's bytes."""

    #: The client's name for the file (only its suffix is ever used, as a hint).
    filename: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    has_file: bool = False

    @property
    def suffix_hint(self) -> str:
        return self.filename.rpartition(".")[2] if "." in self.filename else ""


async def read_form(
    body: AsyncIterable[bytes], boundary: bytes, sink: Incoming, *, limit: int
) -> Form:
    """Read a whole multipart body, the ``file`` field into ``sink``.

    Raises:
        ProtocolError: 413 once the body passes ``limit`` bytes (or the file
            passes the sink's limit), 400 when it is not well-formed multipart,
            has no ``file`` field, more than one, or a field over 1 KiB.
    """
    reader = _Reader(boundary, sink)
    total = 0
    try:
        async for chunk in body:
            total += len(chunk)
            if total > limit:
                raise ProtocolError(
                    413, f"file too large: limit is {sink.limit} bytes", key="file_too_large"
                )
            await reader.feed(chunk)
    except RequestEntityTooLarge:
        # quart's own cap on what it buffers: more arrived than the route took
        raise ProtocolError(
                    413, f"file too large: limit is {sink.limit} bytes", key="file_too_large"
                ) from None
    await reader.feed(None)
    if not reader.form.has_file:
        raise ProtocolError(400, f"the multipart field `{FILE_FIELD}` is required")
    return reader.form


class _Reader:
    def __init__(self, boundary: bytes, sink: Incoming) -> None:
        self._decoder = MultipartDecoder(boundary, max_parts=MAX_PARTS)
        self._sink = sink
        self.form = Form()
        #: Where the current part's data goes: the file, a field (its name), or nowhere.
        self._into_file = False
        self._field: str | None = None
        self._value = bytearray()

    async def feed(self, chunk: bytes | None) -> None:
        """Decode ``chunk`` (None: the body ended) and route every event it completes."""
        try:
            self._decoder.receive_data(chunk)
            while True:
                event = self._decoder.next_event()
                if isinstance(event, (NeedData, Epilogue)):
                    return
                if isinstance(event, File):
                    self._start_file(event)
                elif isinstance(event, Field):
                    self._into_file, self._field = False, event.name
                    self._value.clear()
                elif isinstance(event, Data):
                    await self._data(event)
        except RequestEntityTooLarge:
            raise ProtocolError(400, f"too many form fields: at most {MAX_PARTS}") from None
        except ValueError:
            raise ProtocolError(400, "the body is not well-formed multipart/form-data") from None

    def _start_file(self, event: File) -> None:
        self._field = None
        self._into_file = event.name == FILE_FIELD
        if self._into_file:
            if self.form.has_file:
                raise ProtocolError(400, f"one file per upload: `{FILE_FIELD}` came twice")
            self.form.has_file = True
            self.form.filename = event.filename

    async def _data(self, event: Data) -> None:
        if self._into_file:
            await self._sink.write(event.data)
        elif self._field is not None:
            self._value += event.data
            if len(self._value) > MAX_FIELD_BYTES:
                raise ProtocolError(
                    400, f"form field `{self._field}` is longer than {MAX_FIELD_BYTES} bytes"
                )
            if not event.more_data:
                self.form.fields[self._field] = self._value.decode("utf-8", "replace")
