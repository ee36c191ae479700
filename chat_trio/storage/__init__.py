"""Storage: the Store interface and ``open_storage(config)``; callers import only this.

One implementation, SqlStore, serves both backends through SQLAlchemy Core; the
backends differ in how the engine is made (sqlite.py, mysql.py) and in the
CapacityLimiter that bounds the worker threads (1 for SQLite, the pool size for
MySQL).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Protocol

import trio

from chat_trio.config import Config
from chat_trio.model import (
    ConversationSummary,
    Group,
    NewMessage,
    ReadMove,
    StoredMessage,
    User,
)
from chat_trio.storage.message_search import SearchPage, SearchRequest
from chat_trio.storage.schema import build_schema
from chat_trio.storage.social import (
    AnswerOutcome,
    BlockOutcome,
    PendingRequest,
    Relation,
    RequestOutcome,
)
from chat_trio.storage.sql import SqlStore

__all__ = [
    "AnswerOutcome",
    "BlockOutcome",
    "PendingRequest",
    "Relation",
    "RequestOutcome",
    "SqlStore",
    "Store",
    "make_store",
    "open_storage",
]


class Store(Protocol):
    """What the rest of chat-trio asks of a database. Every call may raise StorageError."""

    async def ping(self) -> None: ...
    async def create_user(
        self, *, uuid: str, username: str, password_hash: str, nickname: str, email: str
    ) -> User: ...
    async def user_by_uuid(self, uuid: str) -> User | None: ...
    async def user_by_username(self, username: str) -> User | None: ...
    async def credentials(self, username: str) -> tuple[User, str] | None: ...
    async def password_hash(self, user_id: int) -> str: ...
    async def update_user(
        self, user_id: int, *, nickname: str, email: str, password_hash: str | None
    ) -> None: ...
    async def set_avatar(self, user_id: int, avatar: str) -> None: ...
    async def set_language(self, user_id: int, language: str) -> None: ...
    async def add_friend(self, user_id: int, friend_id: int) -> None: ...
    async def friends(self, user_id: int) -> list[User]: ...
    async def request_friend(self, sender_id: int, to_id: int) -> RequestOutcome: ...
    async def accept_request(self, user_id: int, sender_id: int) -> AnswerOutcome: ...
    async def decline_request(self, user_id: int, sender_id: int) -> AnswerOutcome: ...
    async def cancel_request(self, user_id: int, to_id: int) -> AnswerOutcome: ...
    async def remove_friend(self, user_id: int, other_id: int) -> bool: ...
    async def block(self, user_id: int, other_id: int) -> BlockOutcome: ...
    async def unblock(self, user_id: int, other_id: int) -> bool: ...
    async def pending_requests(
        self, user_id: int
    ) -> tuple[list[PendingRequest], list[PendingRequest]]: ...
    async def blocked_users(self, user_id: int) -> list[User]: ...
    async def block_ties(self, user_uuid: str) -> tuple[frozenset[str], frozenset[str]]: ...
    async def relations(self, user_id: int) -> dict[int, Relation]: ...
    async def search_users(self, query: str, *, limit: int) -> list[User]: ...
    async def search_groups(self, query: str, *, limit: int) -> list[Group]: ...
    async def group_by_uuid(self, uuid: str) -> Group | None: ...
    async def group_by_name(self, name: str) -> Group | None: ...
    async def create_group(self, owner: User, *, uuid: str, name: str, notice: str) -> Group: ...
    async def join_group(self, group: Group, user: User) -> None: ...
    async def groups_of(self, user_id: int) -> list[Group]: ...
    async def group_members(self, group_id: int) -> list[User]: ...
    async def store_messages(
        self, batch: Sequence[NewMessage]
    ) -> list[tuple[StoredMessage, bool]]: ...
    async def conversation(
        self, a: User, b: User, *, limit: int = ..., before: int | None = ...,
        after: int | None = ...,
    ) -> list[StoredMessage]: ...
    async def group_history(
        self, group: Group, *, limit: int = ..., before: int | None = ...,
        after: int | None = ...,
    ) -> list[StoredMessage]: ...
    async def messages_after(
        self, user: User, after: int, *, limit: int
    ) -> list[StoredMessage]: ...
    async def create_login(self, token_hash: str, user_id: int, expires_at_ms: int) -> None: ...
    async def user_for_login(self, token_hash: str) -> tuple[User, int] | None: ...
    async def delete_login(self, token_hash: str) -> None: ...
    async def delete_other_logins(self, user_id: int, keep_token_hash: str) -> None: ...
    async def reserve_file(
        self, user_id: int, token: str, size: int, *, quota: int
    ) -> tuple[bool, int]: ...
    async def finish_file(self, token: str, name: str, size: int) -> None: ...
    async def release_file(self, token: str) -> None: ...
    async def file_usage(self, user_id: int) -> int: ...
    async def stored_file(self, name: str) -> tuple[int, int] | None: ...
    # read state (storage/reads.py)
    async def mark_read(
        self, user: User, message_type: int, peer_id: int, message_id: int
    ) -> ReadMove | None: ...
    async def set_muted(
        self, user: User, message_type: int, peer_id: int, muted: bool
    ) -> bool: ...
    async def read_receipts(self, user_id: int) -> bool: ...
    async def set_read_receipts(self, user_id: int, on: bool) -> None: ...
    async def conversations(
        self, user: User, *, limit: int, before: tuple[int, int, str] | None = ...
    ) -> list[ConversationSummary]: ...
    async def message_by_id(self, message_id: int) -> StoredMessage | None: ...
    async def read_positions(
        self, message_type: int, peer_id: int, candidates: Sequence[int], *, at_least: int = ...
    ) -> list[tuple[User, int]]: ...
    async def search_messages(self, request: SearchRequest) -> SearchPage: ...


def make_store(config: Config, *, mysql_dialect: str = "mysql") -> SqlStore:
    """The configured backend's store, not yet connected.

    ``mysql_dialect`` is ``"mariadb"`` or ``"mysql"``; open_storage finds it from
    the server's version (see storage/mysql.py).
    """
    if config.database.backend == "mysql":
        from chat_trio.storage.mysql import mysql_engine

        return SqlStore(
            mysql_engine(config.mysql, dialect=mysql_dialect),
            build_schema(config.mysql.table_prefix),
            trio.CapacityLimiter(config.mysql.pool_size),
        )
    from chat_trio.storage.sqlite import sqlite_engine

    return SqlStore(sqlite_engine(config.sqlite), build_schema(), trio.CapacityLimiter(1))


@asynccontextmanager
async def open_storage(config: Config, *, create: bool = True) -> AsyncIterator[SqlStore]:
    """Open the configured database and close it on exit.

    With ``create`` (the default), a missing MySQL database is created, missing
    tables are created and pending schema migrations are applied.

    Raises:
        StorageError: in one line, when the database cannot be reached or prepared.
    """
    mysql_dialect = "mysql"
    if config.database.backend == "mysql":
        from chat_trio.storage.mysql import prepare_server

        server = await trio.to_thread.run_sync(
            lambda: prepare_server(config.mysql, create_database=create)
        )
        mysql_dialect = server.dialect
    store = make_store(config, mysql_dialect=mysql_dialect)
    try:
        if create:
            await store.create_schema()
        yield store
    finally:
        with trio.CancelScope(shield=True):
            await store.aclose()
