"""The embedded default backend: one SQLite file in WAL mode.

SQLite takes one writer at a time, so the store's CapacityLimiter is 1: every
call runs on one worker thread at a time, and readers never see a half batch.
``synchronous=FULL`` makes a committed batch survive a power cut, which is what
an ack promises; batching is what keeps that affordable.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import ConnectionPoolEntry

from chat_trio.config import SqliteConfig


def sqlite_engine(config: SqliteConfig) -> Engine:
    path = Path(config.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        f"sqlite:///{path}",
        connect_args={"check_same_thread": False, "timeout": config.busy_timeout},
        pool_size=1,
        max_overflow=0,
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    return engine
