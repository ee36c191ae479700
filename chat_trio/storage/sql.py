"""The Store over SQLAlchemy Core: one implementation for SQLite and MySQL/MariaDB.

Every public method is async and runs its blocking driver work in a worker thread
(``trio.to_thread.run_sync``) under a CapacityLimiter the size of the connection
pool, so the event loop never waits on the database and the pool is never
over-asked. A driver error becomes a StorageError for the one caller that needed
it; a unique-key clash becomes a Conflict.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar, TypeVarTuple

import trio
from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    CursorResult,
    Engine,
    Row,
    Select,
    and_,
    bindparam,
    func,
    insert,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from chat_trio.errors import Conflict, StorageError
from chat_trio.model import (
    ConversationSummary,
    Group,
    MessageType,
    NewMessage,
    ReadMove,
    StoredMessage,
    User,
)
from chat_trio.storage import reads, search, social
from chat_trio.storage import schema as schema_mod
from chat_trio.storage.message_search import MessageSearch, SearchPage, SearchRequest
from chat_trio.storage.schema import Schema, search_scope

log = logging.getLogger(__name__)

T = TypeVar("T")
#: The column types of a row or result, whatever they are.
Ts = TypeVarTuple("Ts")

#: How many messages a history call returns when it names no limit.
DEFAULT_HISTORY_LIMIT = 200

#: A pending file row older than this is taken for the leftover of a node that
#: stopped mid-upload and no longer counts toward its owner's quota. An upload
#: lasts at most the request body timeout (60 s) plus a disk write.
PENDING_FILE_EXPIRY_MS = 15 * 60 * 1000


#: The columns a new message row gives, in the order ``SqlStore._row`` lists them.
_MESSAGE_COLUMNS = (
    "from_user_id", "to_user_id", "message_type", "content_type", "content", "url",
    "client_id", "created_at", "search_scope",
)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _new_id(result: CursorResult[*Ts]) -> int:
    """The primary key an INSERT of one row created."""
    key = result.inserted_primary_key
    if key is None or key[0] is None:
        raise StorageError("the database did not report the new row's id")
    return int(key[0])


def _batch_path(conn: Connection) -> str:
    """How a batch of messages is inserted on ``conn``: ``"sqlite"`` (one
    ``executemany``), ``"mariadb"`` (one multi-row ``INSERT ... RETURNING``), or
    ``""`` (MySQL, no RETURNING: one INSERT per row). Asked of the connected
    dialect, because the MySQL dialects learn what the server can do only when they
    connect."""
    if conn.dialect.name == "sqlite":
        return "sqlite"
    if conn.dialect.name == "mariadb" and conn.dialect.insert_returning:
        return "mariadb"
    return ""


class SqlStore:
    """Users, friends, groups, messages, login sessions and the record of stored files
    in one SQL database."""

    def __init__(self, engine: Engine, schema: Schema, limiter: trio.CapacityLimiter) -> None:
        self.engine = engine
        self.schema = schema
        self._limiter = limiter
        self._insert_message = insert(schema.messages)
        table = schema.messages.name
        columns = ", ".join(_MESSAGE_COLUMNS)
        self._sqlite_insert_sql = (
            f'INSERT INTO "{table}" ({columns}) VALUES ({", ".join(["?"] * len(_MESSAGE_COLUMNS))})'
        )
        self._mariadb_insert_head = f"INSERT INTO `{table}` ({columns}) VALUES "
        self._search = MessageSearch(schema)
        messages = schema.messages
        self._client_id_lookup = select(
            messages.c.id, messages.c.from_user_id, messages.c.client_id, messages.c.created_at
        ).where(
            messages.c.from_user_id.in_(bindparam("senders", expanding=True)),
            messages.c.client_id.in_(bindparam("client_ids", expanding=True)),
        )

    # -- plumbing -----------------------------------------------------------------

    async def _run(self, fn: Callable[[*Ts], T], *args: *Ts) -> T:
        try:
            return await trio.to_thread.run_sync(fn, *args, limiter=self._limiter)
        except IntegrityError as exc:
            raise Conflict(str(exc.orig)) from exc
        except SQLAlchemyError as exc:
            raise StorageError(f"database error: {exc.__class__.__name__}: {exc}") from exc

    async def aclose(self) -> None:
        await trio.to_thread.run_sync(self.engine.dispose, limiter=self._limiter)

    async def create_schema(self) -> None:
        """Create every table that is missing and record the schema version."""
        await self._run(self._create_schema)

    def _create_schema(self) -> None:
        version = self.schema.schema_version
        with self.engine.connect() as conn:
            exists = inspect(conn).has_table(version.name)
            have = conn.execute(select(func.max(version.c.version))).scalar() if exists else None
        if have is None:
            # a new database (or tables made by hand from chat.sql without the
            # version row): create what is missing at the current version
            self.schema.metadata.create_all(self.engine, checkfirst=True)
            self._record_version(schema_mod.SCHEMA_VERSION)
            return
        if have > schema_mod.SCHEMA_VERSION:
            raise StorageError(
                f"the database has schema version {have}, newer than this "
                f"chat-trio's {schema_mod.SCHEMA_VERSION}; upgrade chat-trio"
            )
        for step in range(have + 1, schema_mod.SCHEMA_VERSION + 1):
            log.info("upgrading the database schema to version %d", step)
            with self.engine.begin() as conn:
                schema_mod.MIGRATIONS[step](conn, self.schema)
                conn.execute(insert(version).values(version=step, applied_at=now_ms()))
        self.schema.metadata.create_all(self.engine, checkfirst=True)

    def _record_version(self, number: int) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(self.schema.schema_version).values(version=number, applied_at=now_ms())
                )
        except IntegrityError:
            pass  # another node starting at the same time recorded it first

    async def schema_version(self) -> int | None:
        def read() -> int | None:
            with self.engine.connect() as conn:
                value = conn.execute(select(func.max(self.schema.schema_version.c.version)))
                return value.scalar()

        return await self._run(read)

    async def ping(self) -> None:
        """Raise StorageError unless the database answers."""

        def run() -> None:
            with self.engine.connect() as conn:
                conn.execute(select(1))

        await self._run(run)

    # -- users --------------------------------------------------------------------

    @staticmethod
    def _user(row: Row[*Ts]) -> User:
        m = row._mapping
        return User(
            id=m["id"],
            uuid=m["uuid"],
            username=m["username"],
            nickname=m["nickname"],
            email=m["email"],
            avatar=m["avatar"],
            language=m["language"],
        )

    def _user_columns(self) -> list[Column[int] | Column[str]]:
        u = self.schema.users
        return [
            u.c.id, u.c.uuid, u.c.username, u.c.nickname, u.c.email, u.c.avatar, u.c.language
        ]

    async def create_user(
        self, *, uuid: str, username: str, password_hash: str, nickname: str, email: str
    ) -> User:
        """Raises: Conflict when the username is taken."""
        u = self.schema.users

        def run() -> User:
            t = now_ms()
            with self.engine.begin() as conn:
                result = conn.execute(
                    insert(u).values(
                        uuid=uuid,
                        username=username,
                        password_hash=password_hash,
                        nickname=nickname,
                        email=email,
                        avatar="",
                        created_at=t,
                        updated_at=t,
                    )
                )
                new_id = _new_id(result)
            return User(new_id, uuid, username, nickname, email, "")

        return await self._run(run)

    async def _one_user(self, where: ColumnElement[bool]) -> User | None:
        def run() -> User | None:
            with self.engine.connect() as conn:
                row = conn.execute(select(*self._user_columns()).where(where)).first()
            return None if row is None else self._user(row)

        return await self._run(run)

    async def user_by_uuid(self, uuid: str) -> User | None:
        return await self._one_user(self.schema.users.c.uuid == uuid)

    async def user_by_username(self, username: str) -> User | None:
        return await self._one_user(self.schema.users.c.username == username)

    async def credentials(self, username: str) -> tuple[User, str] | None:
        """The user and its password hash, for login only."""
        u = self.schema.users

        def run() -> tuple[User, str] | None:
            with self.engine.connect() as conn:
                row = conn.execute(
                    select(*self._user_columns(), u.c.password_hash).where(
                        u.c.username == username
                    )
                ).first()
            return None if row is None else (self._user(row), row._mapping["password_hash"])

        return await self._run(run)

    async def password_hash(self, user_id: int) -> str:
        u = self.schema.users

        def run() -> str:
            with self.engine.connect() as conn:
                value = conn.execute(select(u.c.password_hash).where(u.c.id == user_id)).scalar()
            return str(value)

        return await self._run(run)

    async def update_user(
        self, user_id: int, *, nickname: str, email: str, password_hash: str | None
    ) -> None:
        values: dict[str, object] = {"nickname": nickname, "email": email, "updated_at": now_ms()}
        if password_hash is not None:
            values["password_hash"] = password_hash
        await self._update_user(user_id, values)

    async def set_language(self, user_id: int, language: str) -> None:
        """Record the client language the user chose ("" follows the browser)."""
        await self._update_user(user_id, {"language": language, "updated_at": now_ms()})

    async def set_avatar(self, user_id: int, avatar: str) -> None:
        await self._update_user(user_id, {"avatar": avatar, "updated_at": now_ms()})

    async def _update_user(self, user_id: int, values: dict[str, object]) -> None:
        u = self.schema.users

        def run() -> None:
            with self.engine.begin() as conn:
                conn.execute(update(u).where(u.c.id == user_id).values(**values))

        await self._run(run)

    # -- friends ------------------------------------------------------------------

    async def add_friend(self, user_id: int, friend_id: int) -> None:
        """Make two users friends of each other. Raises: Conflict if they already are."""
        f = self.schema.user_friends

        def run() -> None:
            t = now_ms()
            with self.engine.begin() as conn:
                conn.execute(
                    insert(f),
                    [
                        {"user_id": user_id, "friend_id": friend_id, "created_at": t},
                        {"user_id": friend_id, "friend_id": user_id, "created_at": t},
                    ],
                )

        await self._run(run)

    async def friends(self, user_id: int) -> list[User]:
        u, f = self.schema.users, self.schema.user_friends

        def run() -> list[User]:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(*self._user_columns())
                    .join(f, f.c.friend_id == u.c.id)
                    .where(f.c.user_id == user_id)
                    .order_by(u.c.username)
                ).all()
            return [self._user(r) for r in rows]

        return await self._run(run)

    # -- friend requests and blocks (the SQL is in storage/social.py) ------------

    async def request_friend(self, sender_id: int, to_id: int) -> social.RequestOutcome:
        """``sender`` asks ``to`` to be friends (or accepts ``to``'s request)."""
        return await self._run(
            social.request_friend, self.engine, self.schema, sender_id, to_id, now_ms()
        )

    async def accept_request(self, user_id: int, sender_id: int) -> social.AnswerOutcome:
        return await self._run(
            social.accept_request, self.engine, self.schema, user_id, sender_id, now_ms()
        )

    async def decline_request(self, user_id: int, sender_id: int) -> social.AnswerOutcome:
        return await self._run(social.decline_request, self.engine, self.schema, user_id, sender_id)

    async def cancel_request(self, user_id: int, to_id: int) -> social.AnswerOutcome:
        return await self._run(social.cancel_request, self.engine, self.schema, user_id, to_id)

    async def remove_friend(self, user_id: int, other_id: int) -> bool:
        return await self._run(social.remove_friend, self.engine, self.schema, user_id, other_id)

    async def block(self, user_id: int, other_id: int) -> social.BlockOutcome:
        return await self._run(social.block, self.engine, self.schema, user_id, other_id, now_ms())

    async def unblock(self, user_id: int, other_id: int) -> bool:
        return await self._run(social.unblock, self.engine, self.schema, user_id, other_id)

    async def pending_requests(
        self, user_id: int
    ) -> tuple[list[social.PendingRequest], list[social.PendingRequest]]:
        return await self._run(social.pending_requests, self.engine, self.schema, user_id)

    async def blocked_users(self, user_id: int) -> list[User]:
        return await self._run(social.blocked_users, self.engine, self.schema, user_id)

    async def block_ties(self, user_uuid: str) -> tuple[frozenset[str], frozenset[str]]:
        return await self._run(social.block_ties, self.engine, self.schema, user_uuid)

    async def relations(self, user_id: int) -> dict[int, social.Relation]:
        return await self._run(social.relations, self.engine, self.schema, user_id)

    # -- search (storage/search.py) -----------------------------------------------

    async def search_users(self, query: str, *, limit: int) -> list[User]:
        return await self._run(search.search_users, self.engine, self.schema, query, limit)

    async def search_groups(self, query: str, *, limit: int) -> list[Group]:
        return await self._run(search.search_groups, self.engine, self.schema, query, limit)

    # -- groups -------------------------------------------------------------------

    @staticmethod
    def _group(row: Row[*Ts]) -> Group:
        m = row._mapping
        return Group(
            id=m["id"],
            uuid=m["uuid"],
            owner_id=m["user_id"],
            name=m["name"],
            notice=m["notice"],
            created_at_ms=m["created_at"],
        )

    async def _one_group(self, where: ColumnElement[bool]) -> Group | None:
        g = self.schema.groups

        def run() -> Group | None:
            with self.engine.connect() as conn:
                row = conn.execute(select(g).where(where)).first()
            return None if row is None else self._group(row)

        return await self._run(run)

    async def group_by_uuid(self, uuid: str) -> Group | None:
        return await self._one_group(self.schema.groups.c.uuid == uuid)

    async def group_by_name(self, name: str) -> Group | None:
        return await self._one_group(self.schema.groups.c.name == name)

    async def create_group(self, owner: User, *, uuid: str, name: str, notice: str) -> Group:
        """Create a group whose first member is its owner. Raises: Conflict on a taken name."""
        g, gm = self.schema.groups, self.schema.group_members

        def run() -> Group:
            t = now_ms()
            with self.engine.begin() as conn:
                result = conn.execute(
                    insert(g).values(
                        uuid=uuid, user_id=owner.id, name=name, notice=notice, created_at=t
                    )
                )
                group_id = _new_id(result)
                conn.execute(
                    insert(gm).values(
                        group_id=group_id, user_id=owner.id, nickname=owner.nickname, created_at=t
                    )
                )
            return Group(group_id, uuid, owner.id, name, notice, t)

        return await self._run(run)

    async def join_group(self, group: Group, user: User) -> None:
        """Raises: Conflict if the user is already a member.

        The new member's read position starts at the group's newest message, in the
        same transaction: what was said before they joined is history, not unread.
        """
        gm = self.schema.group_members

        def run() -> None:
            with self.engine.begin() as conn:
                t = now_ms()
                conn.execute(
                    insert(gm).values(
                        group_id=group.id, user_id=user.id, nickname=user.nickname,
                        created_at=t,
                    )
                )
                reads.start_at_newest(conn, self.schema, user.id, group.id, t)

        await self._run(run)

    async def groups_of(self, user_id: int) -> list[Group]:
        g, gm = self.schema.groups, self.schema.group_members

        def run() -> list[Group]:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(g)
                    .join(gm, gm.c.group_id == g.c.id)
                    .where(gm.c.user_id == user_id)
                    .order_by(g.c.id)
                ).all()
            return [self._group(r) for r in rows]

        return await self._run(run)

    async def group_members(self, group_id: int) -> list[User]:
        u, gm = self.schema.users, self.schema.group_members

        def run() -> list[User]:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(*self._user_columns())
                    .join(gm, gm.c.user_id == u.c.id)
                    .where(gm.c.group_id == group_id)
                    .order_by(gm.c.id)
                ).all()
            return [self._user(r) for r in rows]

        return await self._run(run)

    # -- messages -----------------------------------------------------------------

    async def store_messages(
        self, batch: Sequence[NewMessage]
    ) -> list[tuple[StoredMessage, bool]]:
        """Store a batch in one transaction; return ``(stored, is_new)`` in batch order.

        A message whose (sender, clientId) is already stored is not stored again:
        the earlier copy comes back in its place with ``is_new`` False, so a
        client's retry gets the same id and is not delivered twice.
        """
        return await self._run(self._store_messages, list(batch))

    def _store_messages(self, batch: list[NewMessage]) -> list[tuple[StoredMessage, bool]]:
        with self.engine.begin() as conn:
            existing = self._existing_client_ids(conn, batch)
            fresh: list[NewMessage] = []
            seen: dict[tuple[int, str], int] = {}
            for m in batch:
                key = (m.sender.id, m.client_id)
                if m.client_id and (key in existing or key in seen):
                    continue
                if m.client_id:
                    seen[key] = len(fresh)
                fresh.append(m)
            ids = self._insert_rows(conn, [self._row(m) for m in fresh])
        if not existing and len(fresh) == len(batch):  # nothing retried: all are new
            stored = self._stored
            return [(stored(m, i, m.created_at_ms), True) for m, i in zip(batch, ids, strict=True)]
        stored_fresh = {
            id(m): self._stored(m, i, m.created_at_ms) for m, i in zip(fresh, ids, strict=True)
        }
        out: list[tuple[StoredMessage, bool]] = []
        for m in batch:
            key = (m.sender.id, m.client_id)
            if id(m) in stored_fresh:
                out.append((stored_fresh[id(m)], True))
            elif key in existing:
                prior_id, prior_at = existing[key]
                out.append((self._stored(m, prior_id, prior_at), False))
            else:  # a duplicate inside this batch: the first copy's id
                first = fresh[seen[key]]
                out.append((stored_fresh[id(first)], False))
        return out

    def _insert_rows(self, conn: Connection, rows: list[tuple[object, ...]]) -> list[int]:
        """Insert ``rows`` (in ``_MESSAGE_COLUMNS`` order); their new ids, in order.

        Through the DB-API cursor, not SQLAlchemy's statement building: the batch is
        the store writer's hot path, and building and compiling the statement per
        batch cost more than the insert itself (a profile of the 1:1 benchmark).
        """
        if not rows:
            return []
        path = _batch_path(conn)
        raw = conn.connection.driver_connection
        dbapi = conn.dialect.loaded_dbapi
        try:
            if path == "sqlite":
                return self._insert_sqlite(raw, rows)
            if path == "mariadb":
                return self._insert_mariadb(raw, rows)
        except dbapi.IntegrityError as exc:
            raise Conflict(str(exc)) from exc
        except dbapi.Error as exc:
            raise StorageError(f"database error: {exc.__class__.__name__}: {exc}") from exc
        # MySQL has no RETURNING: one INSERT per row, still in the one transaction.
        named = [dict(zip(_MESSAGE_COLUMNS, row, strict=True)) for row in rows]
        return [_new_id(conn.execute(self._insert_message, row)) for row in named]

    def _insert_sqlite(self, raw: Any, rows: list[tuple[object, ...]]) -> list[int]:
        """One ``executemany``; the ids are one range ending at ``last_insert_rowid()``.

        The range is exact: the rows are inserted in order inside one transaction that
        holds SQLite's write lock from the first row to the commit, so no other
        connection can take an id in between, and a rowid with no value given is one
        more than the largest before it.
        """
        cursor = raw.cursor()
        try:
            cursor.executemany(self._sqlite_insert_sql, rows)
            if cursor.rowcount != len(rows):
                raise StorageError(f"inserted {cursor.rowcount} of {len(rows)} messages")
            last = int(cursor.execute("SELECT last_insert_rowid()").fetchone()[0])
        finally:
            cursor.close()
        first = last - len(rows) + 1
        return list(range(first, last + 1))

    def _insert_mariadb(self, raw: Any, rows: list[tuple[object, ...]]) -> list[int]:
        """One multi-row ``INSERT ... RETURNING id``.

        Auto-increment values within one statement rise in row order (whatever
        ``innodb_autoinc_lock_mode`` or the increment), so the sorted ids are the
        rows' ids in order even if the server returned them in another.
        """
        one = "(" + ", ".join(["%s"] * len(_MESSAGE_COLUMNS)) + ")"
        sql = self._mariadb_insert_head + ", ".join([one] * len(rows)) + " RETURNING id"
        args = [value for row in rows for value in row]
        cursor = raw.cursor()
        try:
            cursor.execute(sql, args)
            ids = sorted(int(r[0]) for r in cursor.fetchall())
        finally:
            cursor.close()
        if len(ids) != len(rows):
            raise StorageError(f"inserted {len(ids)} of {len(rows)} messages")
        return ids

    def _existing_client_ids(
        self, conn: Connection, batch: Iterable[NewMessage]
    ) -> dict[tuple[int, str], tuple[int, int]]:
        """The stored (id, time) of each (sender, clientId) of ``batch`` already stored.

        One statement of a fixed shape (two expanding IN lists, the pairs picked out
        here): an OR of one term per message made a new statement shape for every
        batch size, and SQLAlchemy's statement cache kept each one (a long soak's
        memory grew by megabytes through this lookup).
        """
        wanted = {(m.sender.id, m.client_id) for m in batch if m.client_id}
        if not wanted:
            return {}
        senders = sorted({u for u, _ in wanted})
        client_ids = sorted({c for _, c in wanted})
        rows = conn.execute(
            self._client_id_lookup, {"senders": senders, "client_ids": client_ids}
        ).all()
        return {
            (r.from_user_id, r.client_id): (r.id, r.created_at)
            for r in rows
            if (r.from_user_id, r.client_id) in wanted
        }

    @staticmethod
    def _row(m: NewMessage) -> tuple[object, ...]:
        """The values of ``m`` in ``_MESSAGE_COLUMNS`` order."""
        return (
            m.sender.id, m.to_id, int(m.message_type), m.content_type, m.content, m.url,
            m.client_id or None, m.created_at_ms,
            search_scope(int(m.message_type), m.sender.id, m.to_id),
        )

    @staticmethod
    def _stored(m: NewMessage, message_id: int, created_at_ms: int) -> StoredMessage:
        return StoredMessage(
            id=message_id,
            from_uuid=m.sender.uuid,
            from_username=m.sender.username,
            avatar=m.sender.avatar,
            to_uuid=m.to_uuid,
            to_username="",
            message_type=int(m.message_type),
            content_type=m.content_type,
            content=m.content,
            url=m.url,
            client_id=m.client_id,
            created_at_ms=created_at_ms,
        )

    async def conversation(
        self, a: User, b: User, *, limit: int = DEFAULT_HISTORY_LIMIT,
        before: int | None = None, after: int | None = None,
    ) -> list[StoredMessage]:
        """One-to-one messages between two users, oldest first: the last ``limit``,
        or the last ``limit`` before id ``before``, or the first ``limit`` after id
        ``after``."""
        t = self.schema.messages
        where = and_(
            t.c.message_type == int(MessageType.USER),
            or_(
                and_(t.c.from_user_id == a.id, t.c.to_user_id == b.id),
                and_(t.c.from_user_id == b.id, t.c.to_user_id == a.id),
            ),
        )
        return await self._history(where, limit, before, after)

    async def group_history(
        self, group: Group, *, limit: int = DEFAULT_HISTORY_LIMIT,
        before: int | None = None, after: int | None = None,
    ) -> list[StoredMessage]:
        """A group's messages, oldest first, paged like ``conversation``."""
        t = self.schema.messages
        where = and_(t.c.message_type == int(MessageType.GROUP), t.c.to_user_id == group.id)
        return await self._history(where, limit, before, after)

    async def messages_after(self, user: User, after: int, *, limit: int) -> list[StoredMessage]:
        """Everything ``user`` can see with an id above ``after``, in id order: the
        one-to-one messages they sent or received, and their groups' messages.
        This is what a reconnecting client asks for to catch up."""
        t, gm = self.schema.messages, self.schema.group_members
        my_groups = select(gm.c.group_id).where(gm.c.user_id == user.id)
        where = or_(
            and_(
                t.c.message_type == int(MessageType.USER),
                or_(t.c.from_user_id == user.id, t.c.to_user_id == user.id),
            ),
            and_(t.c.message_type == int(MessageType.GROUP), t.c.to_user_id.in_(my_groups)),
        )
        return await self._history(where, limit, None, after)

    async def _history(
        self, where: ColumnElement[bool], limit: int, before: int | None, after: int | None
    ) -> list[StoredMessage]:
        query = self._history_query(where, before, after).limit(limit)

        def run() -> list[StoredMessage]:
            with self.engine.connect() as conn:
                rows = list(conn.execute(query).all())
            if after is None:
                rows.reverse()
            return self._stored_rows(rows)

        return await self._run(run)

    def _history_sync(self, conn: Connection, where: ColumnElement[bool]) -> list[StoredMessage]:
        """Every message matching ``where``, on an open connection (no limit: the
        caller names a few ids)."""
        return self._stored_rows(list(conn.execute(self._history_query(where, None, 0)).all()))

    def _history_query(
        self, where: ColumnElement[bool], before: int | None, after: int | None
    ) -> Select[Any]:
        t, g = self.schema.messages, self.schema.groups
        sender, target = self.schema.users.alias("sender"), self.schema.users.alias("target")
        query = (
            select(
                t,
                sender.c.uuid.label("from_uuid"),
                sender.c.username.label("from_username"),
                sender.c.avatar.label("from_avatar"),
                func.coalesce(target.c.uuid, g.c.uuid).label("to_uuid"),
                func.coalesce(target.c.username, g.c.name).label("to_name"),
            )
            .join(sender, sender.c.id == t.c.from_user_id)
            .outerjoin(
                target,
                and_(t.c.message_type == int(MessageType.USER), target.c.id == t.c.to_user_id),
            )
            .outerjoin(
                g, and_(t.c.message_type == int(MessageType.GROUP), g.c.id == t.c.to_user_id)
            )
            .where(where)
        )
        if before is not None:
            query = query.where(t.c.id < before)
        if after is not None:
            # The first `limit` after an id: ascending, so nothing is skipped.
            return query.where(t.c.id > after).order_by(t.c.id.asc())
        return query.order_by(t.c.id.desc())

    @staticmethod
    def _stored_rows(rows: Iterable[Row[Any]]) -> list[StoredMessage]:
        return [
            StoredMessage(
                id=m["id"],
                from_uuid=m["from_uuid"],
                from_username=m["from_username"],
                avatar=m["from_avatar"],
                to_uuid=m["to_uuid"] or "",
                to_username=m["to_name"] or "",
                message_type=m["message_type"],
                content_type=m["content_type"],
                content=m["content"],
                url=m["url"],
                client_id=m["client_id"] or "",
                created_at_ms=m["created_at"],
            )
            for m in (r._mapping for r in rows)
        ]

    async def search_messages(self, request: SearchRequest) -> SearchPage:
        """One page of the text messages the user may read that match the terms,
        newest first (storage/message_search.py)."""

        def run() -> SearchPage:
            with self.engine.connect() as conn:
                return self._search.run(conn, request)

        return await self._run(run)

    # -- stored files -------------------------------------------------------------

    async def reserve_file(
        self, user_id: int, token: str, size: int, *, quota: int
    ) -> tuple[bool, int]:
        """Count ``size`` more bytes against a user's quota before a file is written.

        Returns ``(granted, used)``: ``used`` is what the user's files take now
        (pending ones at their reserved size); when ``used + size`` fits in
        ``quota`` (0 = no quota), a pending row named ``token`` is recorded and
        ``granted`` is True. The user's row is locked for the check (``SELECT ...
        FOR UPDATE`` on MySQL, the one writer on SQLite), so concurrent uploads of
        one user, on any node, are checked one after the other.
        """
        u, f = self.schema.users, self.schema.files

        def run() -> tuple[bool, int]:
            t = now_ms()
            with self.engine.begin() as conn:
                conn.execute(select(u.c.id).where(u.c.id == user_id).with_for_update())
                used = int(conn.execute(self._usage(user_id, t)).scalar() or 0)
                if quota and used + size > quota:
                    return False, used
                conn.execute(
                    insert(f).values(
                        name=token, user_id=user_id, size=size, pending=1, created_at=t
                    )
                )
            return True, used

        return await self._run(run)

    def _usage(self, user_id: int, t: int) -> Select[int]:
        f = self.schema.files
        return select(func.coalesce(func.sum(f.c.size), 0)).where(
            f.c.user_id == user_id,
            or_(f.c.pending == 0, f.c.created_at > t - PENDING_FILE_EXPIRY_MS),
        )

    async def finish_file(self, token: str, name: str, size: int) -> None:
        """The reserved file is in place: record its name and real size."""
        f = self.schema.files

        def run() -> None:
            with self.engine.begin() as conn:
                conn.execute(
                    update(f).where(f.c.name == token).values(name=name, size=size, pending=0)
                )

        await self._run(run)

    async def release_file(self, token: str) -> None:
        """Drop a reservation whose upload failed."""
        f = self.schema.files

        def run() -> None:
            with self.engine.begin() as conn:
                conn.execute(f.delete().where(f.c.name == token, f.c.pending == 1))

        await self._run(run)

    async def file_usage(self, user_id: int) -> int:
        """Bytes a user's files take, pending uploads at their reserved size."""

        def run() -> int:
            with self.engine.connect() as conn:
                return int(conn.execute(self._usage(user_id, now_ms())).scalar() or 0)

        return await self._run(run)

    async def stored_file(self, name: str) -> tuple[int, int] | None:
        """(owner's user id, size) of a stored file, None if it has no record."""
        f = self.schema.files

        def run() -> tuple[int, int] | None:
            with self.engine.connect() as conn:
                row = conn.execute(
                    select(f.c.user_id, f.c.size).where(f.c.name == name, f.c.pending == 0)
                ).first()
            return None if row is None else (int(row.user_id), int(row.size))

        return await self._run(run)

    # -- login sessions -----------------------------------------------------------

    async def create_login(self, token_hash: str, user_id: int, expires_at_ms: int) -> None:
        s = self.schema.sessions

        def run() -> None:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(s).values(
                        token_hash=token_hash,
                        user_id=user_id,
                        created_at=now_ms(),
                        expires_at=expires_at_ms,
                    )
                )

        await self._run(run)

    async def user_for_login(self, token_hash: str) -> tuple[User, int] | None:
        """The user a token belongs to and when the token expires (epoch ms), if the
        token exists and has not expired."""
        s, u = self.schema.sessions, self.schema.users

        def run() -> tuple[User, int] | None:
            with self.engine.connect() as conn:
                row = conn.execute(
                    select(*self._user_columns(), s.c.expires_at)
                    .join(s, s.c.user_id == u.c.id)
                    .where(s.c.token_hash == token_hash, s.c.expires_at > now_ms())
                ).first()
            return None if row is None else (self._user(row), int(row._mapping["expires_at"]))

        return await self._run(run)

    async def delete_login(self, token_hash: str) -> None:
        s = self.schema.sessions

        def run() -> None:
            with self.engine.begin() as conn:
                conn.execute(s.delete().where(s.c.token_hash == token_hash))

        await self._run(run)

    async def delete_other_logins(self, user_id: int, keep_token_hash: str) -> None:
        """Revoke every login of a user but one (after a password change)."""
        s = self.schema.sessions

        def run() -> None:
            with self.engine.begin() as conn:
                conn.execute(
                    s.delete().where(s.c.user_id == user_id, s.c.token_hash != keep_token_hash)
                )

        await self._run(run)

    # -- read state (queries in storage/reads.py) ---------------------------------

    async def mark_read(
        self, user: User, message_type: int, peer_id: int, message_id: int
    ) -> ReadMove | None:
        """Move ``user``'s read position in a conversation (1:1 with user ``peer_id``,
        or group ``peer_id``) up to the newest message at or below ``message_id``,
        never down. None when the conversation has no message at or below it."""
        key = (message_type, peer_id)

        def run() -> ReadMove | None:
            with self.engine.begin() as conn:
                return reads.mark_read(conn, self.schema, user.id, key, message_id, now_ms())

        return await self._twice(run)

    async def set_muted(self, user: User, message_type: int, peer_id: int, muted: bool) -> bool:
        """Mute or unmute a conversation for ``user``; True when that changed anything."""
        key = (message_type, peer_id)

        def run() -> bool:
            with self.engine.begin() as conn:
                return reads.set_muted(conn, self.schema, user.id, key, muted, now_ms())

        return await self._twice(run)

    async def read_receipts(self, user_id: int) -> bool:
        """Whether the user shares read receipts (and so sees others')."""

        def run() -> bool:
            with self.engine.connect() as conn:
                return reads.receipts(conn, self.schema, (user_id,))[user_id]

        return await self._run(run)

    async def set_read_receipts(self, user_id: int, on: bool) -> None:
        def run() -> None:
            with self.engine.begin() as conn:
                reads.set_receipts(conn, self.schema, user_id, on, now_ms())

        await self._twice(run)

    async def _twice(self, fn: Callable[[], T]) -> T:
        """Run a read-modify-write step; once more if another node inserted the same
        new row meanwhile (the second run finds it and updates it)."""
        try:
            return await self._run(fn)
        except Conflict:
            return await self._run(fn)

    async def conversations(
        self, user: User, *, limit: int, before: tuple[int, int, str] | None = None
    ) -> list[ConversationSummary]:
        """A page of ``user``'s conversations, newest activity first.

        The order is by ``(activity_ms, message_type, uuid)``, descending; ``before``
        is that triple of the last item of the previous page (the next page starts
        below it). Only the page's conversations get their unread counts, last
        messages and peers' positions computed.
        """

        def run() -> list[ConversationSummary]:
            with self.engine.connect() as conn:
                receipts_on = reads.receipts(conn, self.schema, (user.id,))[user.id]
                found = reads.listed(conn, self.schema, user.id)
                return self._conversation_page(conn, user, found, limit, before, receipts_on)

        return await self._run(run)

    def _conversation_page(
        self, conn: Connection, user: User, found: list[reads.ListedConversation],
        limit: int, before: tuple[int, int, str] | None, receipts_on: bool,
    ) -> list[ConversationSummary]:
        u, g = self.schema.users, self.schema.groups
        user_ids = [c.key[1] for c in found if c.key[0] == MessageType.USER]
        group_ids = [c.key[1] for c in found if c.key[0] == MessageType.GROUP]
        users = {
            r.id: self._user(r)
            for r in conn.execute(select(*self._user_columns()).where(u.c.id.in_(user_ids)))
        }
        groups = {
            r.id: self._group(r) for r in conn.execute(select(g).where(g.c.id.in_(group_ids)))
        }

        def uuid_of(c: reads.ListedConversation) -> str:
            held = users.get(c.key[1]) if c.key[0] == MessageType.USER else groups.get(c.key[1])
            return held.uuid if held is not None else ""

        ordered = sorted(
            ((c.activity_ms, c.key[0], uuid_of(c)), c) for c in found if uuid_of(c)
        )
        ordered.reverse()
        if before is not None:
            ordered = [item for item in ordered if item[0] < before]
        page = [c for _, c in ordered[:limit]]
        lasts = {
            m.id: m
            for m in self._history_sync(
                conn, self.schema.messages.c.id.in_([c.last_id for c in page if c.last_id])
            )
        }
        peers = [c.key[1] for c in page if c.key[0] == MessageType.USER]
        positions = reads.peer_positions(conn, self.schema, user.id, peers) if receipts_on else {}
        return [
            ConversationSummary(
                message_type=c.key[0],
                user=users.get(c.key[1]) if c.key[0] == MessageType.USER else None,
                group=groups.get(c.key[1]) if c.key[0] == MessageType.GROUP else None,
                last_message=lasts.get(c.last_id),
                activity_ms=c.activity_ms,
                read_id=c.state.read_id,
                unread=reads.unread_after(conn, self.schema, user.id, c.key, c.state.read_id),
                muted=c.state.muted,
                peer_read_id=positions.get(c.key[1]) if c.key[0] == MessageType.USER else None,
            )
            for c in page
        ]

    async def message_by_id(self, message_id: int) -> StoredMessage | None:
        found = await self._history(self.schema.messages.c.id == message_id, 1, None, None)
        return found[0] if found else None

    async def read_positions(
        self, message_type: int, peer_id: int, candidates: Sequence[int], *, at_least: int = 1
    ) -> list[tuple[User, int]]:
        """Of ``candidates`` (user ids), who shares read receipts and has read at least
        up to ``at_least`` in the conversation they name ``(message_type, peer_id)``,
        with their positions, by username."""

        def run() -> list[tuple[User, int]]:
            u = self.schema.users
            with self.engine.connect() as conn:
                found = reads.positions(
                    conn, self.schema, (message_type, peer_id), candidates, at_least=at_least
                )
                rows = conn.execute(
                    select(*self._user_columns())
                    .where(u.c.id.in_(list(found)))
                    .order_by(u.c.username)
                )
                return [(self._user(r), found[int(r.id)]) for r in rows]

        return await self._run(run)
