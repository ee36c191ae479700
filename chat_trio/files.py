"""Uploaded files: the type comes from the bytes, the name from the server,
the room from the owner's quota.

A file's format is sniffed from its first bytes (the ``filetype`` library), never
taken from the client's name or suffix, and decides the message's content type:
image 3, audio 4, video 5, anything else 2. A WebM recording is audio when it
holds no video track, which is what a browser's voice message is. Files are
stored under ``<32 hex digits><.ext>``, and only names of that shape are ever
looked up, so no request can reach outside the upload folder.

Every file has an owner. Before any byte is written, the owner spends one upload
from a per-user token bucket (``[limits] uploadsPerMinute``) and reserves room in
the database's record of stored files (``[limits] uploadQuotaBytes``); the
reservation is checked and recorded in one locked transaction, so concurrent
uploads, on any node, cannot together pass the quota. The bytes then go, in
chunks written by worker threads, to a hidden ``.<name>.part`` file in the upload
folder, which is renamed into place once complete. An upload that fails for any
reason (too large, the client gone, a refusal) deletes its part file and its
reservation, so it leaves nothing behind; a part file left by a server that
stopped mid-upload is deleted at the next start.
"""

from __future__ import annotations

import logging
import math
import os
import re
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

import filetype
import trio

from chat_trio.errors import ProtocolError, StorageError
from chat_trio.model import ContentType, User
from chat_trio.ratelimit import KeyedBuckets

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[0-9a-f]{32}(\.[a-z0-9]{1,10})?$")
_SUFFIX = re.compile(r"^\.?([A-Za-z0-9]{1,10})$")
#: Matroska codec ids of video tracks; a WebM without any is an audio recording.
_VIDEO_CODECS = (b"V_VP8", b"V_VP9", b"V_AV1", b"V_MPEG4", b"V_MPEGH")
_FALLBACK_MIME = "application/octet-stream"
#: How much of a file's start is kept for sniffing (the WebM check reads this far).
_HEAD_BYTES = 65536
#: Received bytes are gathered up to this much before a worker thread writes them.
_WRITE_CHUNK = 256 * 1024
#: Seconds that deleting a failed upload's leftovers may take once its request is over.
_CLEANUP_SECONDS = 10.0
#: A part file this old is the leftover of a server that stopped mid-upload (an
#: upload lasts at most the body timeout, 60 s); the same figure as a stale
#: reservation in storage/sql.py.
STALE_PART_SECONDS = 15 * 60.0


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


class FileLedger(Protocol):
    """The database's record of stored files (SqlStore implements it)."""

    async def reserve_file(
        self, user_id: int, token: str, size: int, *, quota: int
    ) -> tuple[bool, int]: ...
    async def finish_file(self, token: str, name: str, size: int) -> None: ...
    async def release_file(self, token: str) -> None: ...


def _amount(size: int) -> str:
    """Bytes as a person reads them: ``1.5 MiB``."""
    if size < 1024:
        return f"{size} bytes"
    value = size / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


class FileStore:
    """The upload folder (``[staticPath] filePath``) and who may put what in it.

    Args:
        root: the upload folder.
        max_bytes: the largest file (``[limits] maxUploadBytes``).
        ledger: the record of stored files, for the quota.
        uploads_per_minute: files one user may store per minute (on this node).
        quota_bytes: room for all of one user's files; 0 means no quota.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        max_bytes: int,
        *,
        ledger: FileLedger,
        uploads_per_minute: int = 30,
        quota_bytes: int = 0,
    ) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.quota_bytes = quota_bytes
        self.uploads_per_minute = uploads_per_minute
        self._ledger = ledger
        self._buckets = KeyedBuckets(uploads_per_minute / 60, uploads_per_minute)

    def ensure_root(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def remove_stale_parts(self, now: float | None = None) -> int:
        """Delete part files left by a server that stopped mid-upload; how many.

        Blocking; run at start-up in a worker thread. Only parts older than
        STALE_PART_SECONDS go, so another node's upload in progress is left alone.
        """
        cutoff = (time.time() if now is None else now) - STALE_PART_SECONDS
        removed = 0
        for path in self.root.glob(".*.part"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                pass  # finished or removed meanwhile
        return removed

    def admit(self, owner: User) -> None:
        """Spend one of the owner's uploads for this minute.

        Raises:
            ProtocolError: 429, with ``retry_after``, when they have none left.
        """
        now = trio.current_time()
        bucket = self._buckets.bucket(owner.uuid, now)
        if not bucket.take(now):
            wait = math.ceil(bucket.retry_after(now))
            raise ProtocolError(
                429,
                f"too many uploads: at most {self.uploads_per_minute} a minute; "
                f"try again in {wait} s",
                retry_after=wait,
                key="too_many_uploads",
            )

    @asynccontextmanager
    async def receiving(self, owner: User, reserve: int) -> AsyncIterator[Incoming]:
        """Room for a file of at most ``reserve`` bytes, to be written in chunks.

        The bytes are reserved against the owner's quota first. Whatever is not
        committed when the block ends (an error, a refusal, the client gone:
        cancellation) is deleted, part file and reservation alike.

        Raises:
            ProtocolError: 413 when the reservation does not fit in the quota.
            StorageError: the database could not record the reservation.
        """
        token = secrets.token_hex(16)
        granted, used = await self._ledger.reserve_file(
            owner.id, token, reserve, quota=self.quota_bytes
        )
        if not granted:
            raise ProtocolError(
                413,
                f"upload quota reached: your files use {used} of your {self.quota_bytes} "
                f"bytes ({_amount(used)} of {_amount(self.quota_bytes)}), and this upload "
                f"may need {reserve} more",
                key="quota_reached",
            )
        incoming = Incoming(self, token)
        try:
            yield incoming
        finally:
            if not incoming.committed:
                with trio.move_on_after(_CLEANUP_SECONDS, shield=True):
                    await incoming.discard()
                    try:
                        await self._ledger.release_file(token)
                    except StorageError as exc:
                        # the row stops counting by itself once it is stale
                        log.warning("could not release an upload reservation: %s", exc)

    async def save(self, data: bytes, suffix_hint: str = "", *, owner: User) -> StoredFile:
        """Store bytes already in memory (a file sent inside a frame) under a new name.

        Raises:
            ProtocolError: 413 over the size limit or the owner's quota, 400 when
                empty, 429 past the owner's uploads per minute.
        """
        if len(data) > self.max_bytes:
            raise ProtocolError(
                413, f"file too large: limit is {self.max_bytes} bytes", key="file_too_large"
            )
        if not data:
            raise ProtocolError(400, "empty file", key="empty_file")
        self.admit(owner)
        async with self.receiving(owner, len(data)) as incoming:
            await incoming.write(data)
            return await incoming.commit(suffix_hint)

    async def path_for(self, name: str) -> Path | None:
        """The file's path, or None when ``name`` is not a name this store makes or
        no such file exists. The lookup runs in a worker thread: a slow disk (or a
        network share) does not stop the event loop."""
        if not _NAME.match(name):
            return None
        path = self.root / name
        return path if await trio.to_thread.run_sync(path.is_file) else None

    @staticmethod
    def mime_of(path: Path) -> str:
        with path.open("rb") as f:
            head = f.read(_HEAD_BYTES)
        return sniff(head).mime


class Incoming:
    """One file being received; made by :meth:`FileStore.receiving`.

    ``write`` takes the bytes as they arrive; the first 64 KiB stay in memory for
    sniffing, the rest only until a worker thread has written them to the part
    file, so memory does not grow with the file.
    """

    def __init__(self, store: FileStore, token: str) -> None:
        self._store = store
        self.token = token
        #: Bytes received so far, and the most there may be.
        self.size = 0
        self.limit = store.max_bytes
        #: Set once the file is in place and recorded.
        self.committed = False
        self._head = bytearray()
        self._pending = bytearray()
        self._file: BinaryIO | None = None
        self._part = store.root / f".{token}.part"
        self._final: Path | None = None

    async def write(self, data: bytes) -> None:
        """Append bytes. Raises: ProtocolError 413 once past the size limit."""
        if not data:
            return
        self.size += len(data)
        if self.size > self.limit:
            raise ProtocolError(
                413, f"file too large: limit is {self.limit} bytes", key="file_too_large"
            )
        if len(self._head) < _HEAD_BYTES:
            self._head += data[: _HEAD_BYTES - len(self._head)]
        if not self._pending and len(data) >= _WRITE_CHUNK:
            await trio.to_thread.run_sync(self._write, data)
            return
        self._pending += data
        if len(self._pending) >= _WRITE_CHUNK:
            await self._flush()

    async def _flush(self) -> None:
        if self._pending:
            chunk = bytes(self._pending)
            self._pending.clear()
            await trio.to_thread.run_sync(self._write, chunk)

    def _write(self, chunk: bytes) -> None:
        if self._file is None:
            self._store.ensure_root()
            self._file = self._part.open("xb")
        self._file.write(chunk)

    def sniffed(self, suffix_hint: str = "") -> Sniffed:
        """What the file is, from its first bytes (see :func:`sniff`)."""
        return sniff(bytes(self._head), suffix_hint)

    async def commit(self, suffix_hint: str = "") -> StoredFile:
        """Put the complete file in place under a new name and record its real size.

        Raises:
            ProtocolError: 400 when no byte was received.
        """
        if self.size == 0:
            raise ProtocolError(400, "empty file", key="empty_file")
        found = self.sniffed(suffix_hint)
        name = f"{self.token}.{found.extension}"
        await self._flush()
        self._final = self._store.root / name
        await trio.to_thread.run_sync(self._place, self._final)
        await self._store._ledger.finish_file(self.token, name, self.size)
        self.committed = True
        return StoredFile(name, found.mime, found.content_type, self.size)

    def _place(self, final: Path) -> None:
        # commit refuses an empty file, and the first byte written opened the part
        assert self._file is not None, "a committed file has had a byte written"
        self._file.close()
        self._part.replace(final)

    async def discard(self) -> None:
        """Delete whatever this upload wrote."""
        await trio.to_thread.run_sync(self._remove)

    def _remove(self) -> None:
        if self._file is not None:
            self._file.close()
        self._part.unlink(missing_ok=True)
        if self._final is not None:
            self._final.unlink(missing_ok=True)
