"""Uploaded files: the type comes from the bytes, the name from the server.

A file's format is sniffed from its first bytes (the ``filetype`` library), never
taken from the client's name or suffix, and decides the message's content type:
image 3, audio 4, video 5, anything else 2. A WebM recording is audio when it
holds no video track, which is what a browser's voice message is. Files are
stored under ``<32 hex digits><.ext>``, and only names of that shape are ever
looked up, so no request can reach outside the upload folder.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import filetype
import trio

from chat_trio.errors import ProtocolError
from chat_trio.model import ContentType

_NAME = re.compile(r"^[0-9a-f]{32}(\.[a-z0-9]{1,10})?$")
_SUFFIX = re.compile(r"^\.?([A-Za-z0-9]{1,10})$")
#: Matroska codec ids of video tracks; a WebM without any is an audio recording.
_VIDEO_CODECS = (b"V_VP8", b"V_VP9", b"V_AV1", b"V_MPEG4", b"V_MPEGH")
_FALLBACK_MIME = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class StoredFile:
    name: str
    mime: str
    content_type: ContentType
    size: int


@dataclass(frozen=True, slots=True)
class Sniffed:
    mime: str
    extension: str
    content_type: ContentType


def sniff(data: bytes, suffix_hint: str = "") -> Sniffed:
    """What the bytes are. ``suffix_hint`` names only the stored file's extension
    when the bytes say nothing; it never makes a file an image, audio or video."""
    kind = filetype.guess(data[:8192]) if data else None
    if kind is None:
        hint = _SUFFIX.match(suffix_hint or "")
        return Sniffed(_FALLBACK_MIME, hint.group(1).lower() if hint else "bin", ContentType.FILE)
    mime: str = kind.mime
    extension: str = kind.extension
    if mime in ("video/webm", "video/x-matroska") and not any(
        codec in data[:65536] for codec in _VIDEO_CODECS
    ):
        return Sniffed("audio/webm", "webm", ContentType.AUDIO)
    top = mime.split("/", 1)[0]
    content_type = {
        "image": ContentType.IMAGE,
        "audio": ContentType.AUDIO,
        "video": ContentType.VIDEO,
    }.get(top, ContentType.FILE)
    return Sniffed(mime, extension, content_type)


class FileStore:
    """The upload folder (``[staticPath] filePath``)."""

    def __init__(self, root: str | os.PathLike[str], max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes

    def ensure_root(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    async def save(self, data: bytes, suffix_hint: str = "") -> StoredFile:
        """Store bytes under a new name.

        Raises:
            ProtocolError: 413 over the size limit, 400 when empty.
        """
        if len(data) > self.max_bytes:
            raise ProtocolError(413, f"file too large: limit is {self.max_bytes} bytes")
        if not data:
            raise ProtocolError(400, "empty file")
        found = sniff(data, suffix_hint)
        name = f"{secrets.token_hex(16)}.{found.extension}"
        await trio.to_thread.run_sync(self._write, name, data)
        return StoredFile(name, found.mime, found.content_type, len(data))

    def _write(self, name: str, data: bytes) -> None:
        self.ensure_root()
        tmp = self.root / f".{name}.part"
        tmp.write_bytes(data)
        tmp.replace(self.root / name)

    def path_for(self, name: str) -> Path | None:
        """The file's path, or None when ``name`` is not a name this store makes."""
        if not _NAME.match(name):
            return None
        path = self.root / name
        return path if path.is_file() else None

    @staticmethod
    def mime_of(path: Path) -> str:
        with path.open("rb") as f:
            head = f.read(65536)
        return sniff(head).mime
