"""The upload store's edges, on a real database (SQLite and MariaDB): what is
refused before any byte is written, what a failed upload leaves (nothing), and a
database that fails between the reservation and the commit."""

from __future__ import annotations

import logging
import uuid as uuid_lib
from pathlib import Path

import pytest
from sqlalchemy import text

from chat_trio.errors import ProtocolError, StorageError
from chat_trio.files import _WRITE_CHUNK, FileStore, _amount
from chat_trio.model import User
from chat_trio.storage import SqlStore

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
LIMIT = 2 * _WRITE_CHUNK


@pytest.fixture
async def owner(store: SqlStore) -> User:
    name = f"u-{uuid_lib.uuid4().hex[:8]}"
    return await store.create_user(
        uuid=str(uuid_lib.uuid4()), username=name, password_hash="x", nickname=name, email=""
    )


def folder(files: FileStore) -> list[str]:
    return sorted(p.name for p in files.root.iterdir()) if files.root.exists() else []


def test_amounts_read_like_a_person() -> None:
    assert _amount(5) == "5 bytes"
    assert _amount(1536) == "1.5 KiB"
    assert _amount(3 * 1024 * 1024 // 2) == "1.5 MiB"
    assert _amount(3 * 1024**3) == "3.0 GiB"


def test_a_part_file_that_vanished_is_skipped(tmp_path: Path) -> None:
    """A part that is gone by the time it is looked at (here a link to nothing,
    whose ``stat`` fails as a part finished meanwhile would) is not counted."""
    files = FileStore(tmp_path, LIMIT, ledger=_UnusedLedger())
    (tmp_path / f".{'c' * 32}.part").symlink_to(tmp_path / "gone")
    assert files.remove_stale_parts(now=2**40) == 0


async def test_too_large_or_empty_is_refused_before_anything_is_reserved(
    tmp_path: Path, store: SqlStore, owner: User
) -> None:
    files = FileStore(tmp_path / "files", LIMIT, ledger=store)
    with pytest.raises(ProtocolError) as large:
        await files.save(b"x" * (LIMIT + 1), owner=owner)
    assert large.value.code == 413 and str(LIMIT) in str(large.value)
    with pytest.raises(ProtocolError) as empty:
        await files.save(b"", owner=owner)
    assert empty.value.code == 400
    assert await store.file_usage(owner.id) == 0
    assert folder(files) == []


async def test_a_commit_without_bytes_is_refused_and_releases_its_room(
    tmp_path: Path, store: SqlStore, owner: User
) -> None:
    files = FileStore(tmp_path / "files", LIMIT, ledger=store)

    async def upload() -> None:
        async with files.receiving(owner, 100) as incoming:
            assert await store.file_usage(owner.id) == 100
            await incoming.write(b"")
            await incoming.commit("png")

    with pytest.raises(ProtocolError) as empty:
        await upload()
    assert empty.value.code == 400
    assert await store.file_usage(owner.id) == 0
    assert folder(files) == []


async def test_an_upload_past_the_limit_after_a_written_chunk_leaves_nothing(
    tmp_path: Path, store: SqlStore, owner: User
) -> None:
    """The part file is already open and written when the limit is crossed."""
    files = FileStore(tmp_path / "files", LIMIT, ledger=store)

    async def upload() -> None:
        async with files.receiving(owner, LIMIT) as incoming:
            await incoming.write(PNG + b"\x00" * _WRITE_CHUNK)
            assert len(folder(files)) == 1  # the part file
            await incoming.write(b"\x00" * _WRITE_CHUNK)

    with pytest.raises(ProtocolError) as large:
        await upload()
    assert large.value.code == 413
    assert folder(files) == []
    assert await store.file_usage(owner.id) == 0


async def test_a_database_failing_at_the_commit_leaves_no_file(
    tmp_path: Path, store: SqlStore, owner: User, caplog: pytest.LogCaptureFixture
) -> None:
    """The file was already in place when its record failed: it is deleted, and the
    reservation that could not be released is logged (it expires by itself)."""
    files = FileStore(tmp_path / "files", LIMIT, ledger=store)

    async def upload() -> None:
        async with files.receiving(owner, 1000) as incoming:
            await incoming.write(PNG)
            with store.engine.begin() as conn:
                conn.execute(text(f"DROP TABLE {store.schema.files.name}"))
            await incoming.commit()

    with pytest.raises(StorageError), caplog.at_level(logging.WARNING, "chat_trio.files"):
        await upload()
    assert folder(files) == []
    assert "could not release an upload reservation" in caplog.text


class _UnusedLedger:
    """For a FileStore call that never reaches the database."""

    async def reserve_file(
        self, user_id: int, token: str, size: int, *, quota: int
    ) -> tuple[bool, int]:
        raise AssertionError("not used")

    async def finish_file(self, token: str, name: str, size: int) -> None:
        raise AssertionError("not used")

    async def release_file(self, token: str) -> None:
        raise AssertionError("not used")
