"""Two nodes starting on a new database both record its schema version: the one
that comes second finds the row there and goes on (SQLite and MariaDB)."""

from __future__ import annotations

import trio
from sqlalchemy import func, select

from chat_trio.storage import SqlStore
from chat_trio.storage.schema import SCHEMA_VERSION


async def test_recording_a_version_already_recorded_is_no_error(store: SqlStore) -> None:
    # what the second node does once the first has recorded the version
    await trio.to_thread.run_sync(store._record_version, SCHEMA_VERSION)
    table = store.schema.schema_version

    def rows() -> int:
        with store.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)

    assert await trio.to_thread.run_sync(rows) == 1
    assert await store.schema_version() == SCHEMA_VERSION
