"""At start, the server deletes the part files of uploads a stopped server left
behind, and says how many; a part being written now stays."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest
import trio

from chat_trio.files import STALE_PART_SECONDS
from tests.conftest import server_config, start_server

STALE, FRESH = f".{'a' * 32}.part", f".{'b' * 32}.part"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The upload folder, with a part left long ago and one being written now."""
    folder = Path(server_config(tmp_path).static_path.file_path)
    folder.mkdir()
    (folder / STALE).write_bytes(b"left behind")
    (folder / FRESH).write_bytes(b"in progress")
    long_ago = time.time() - STALE_PART_SECONDS - 60
    os.utime(folder / STALE, (long_ago, long_ago))
    return folder


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def test_the_server_removes_stale_parts_at_start(
    nursery: trio.Nursery, tmp_path: Path, folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, "chat_trio.app"):
        await start_server(nursery, server_config(tmp_path), tmp_path)
    assert names(folder) == [FRESH]
    assert "removed 1 part files of uploads that never finished" in caplog.text
