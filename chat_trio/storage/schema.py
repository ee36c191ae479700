"""The database schema, defined once for SQLite and MySQL/MariaDB (SQLAlchemy Core).

Names follow go-chat's tables (users, user_friends, groups, group_members,
messages) so its data maps over; ``tablePrefix`` from config prefixes them all.
Times are milliseconds since the epoch in BIGINT columns: exact on both backends,
and the same number the wire carries in ``createAt``.

chat.sql at the top of the repository is this schema rendered for MySQL; a test
keeps the two equal (regenerate it with ``python -m chat_trio.storage.ddl >
chat.sql``).

Upgrades: the ``schema_version`` table records every version applied. With any
change here, raise SCHEMA_VERSION to N and add ``MIGRATIONS[N]``, a function that
takes a database at version N-1 to version N; ``create_schema`` runs the missing
steps in order at start-up, each in its own transaction and recorded with it.
A new database is created at SCHEMA_VERSION directly. (MySQL commits DDL
implicitly, so a step should be written to be safe to run again.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    DDL,
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    case,
    cast,
    event,
    inspect,
    literal,
    text,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.schema import CreateColumn

SCHEMA_VERSION = 7

#: Table options for MySQL/MariaDB: utf8mb4 end to end, so 4-byte characters
#: (emoji) survive, which go-chat's utf8 tables did not.
MYSQL_TABLE_ARGS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}

#: Primary keys: BIGINT on MySQL, INTEGER on SQLite (so it aliases the rowid).
_ID = BigInteger().with_variant(Integer(), "sqlite")
#: Message text: up to 16 MiB on MySQL, where TEXT stops at 64 KiB.
_LONG_TEXT = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


@dataclass(frozen=True)
class Schema:
    metadata: MetaData
    users: Table
    user_friends: Table
    groups: Table
    group_members: Table
    messages: Table
    sessions: Table
    files: Table
    schema_version: Table
    friend_requests: Table
    user_blocks: Table
    last_seen: Table
    conversation_states: Table
    user_settings: Table


def build_schema(prefix: str = "") -> Schema:
    """The tables, each name starting with ``prefix``."""
    md = MetaData()
    users = Table(
        f"{prefix}users",
        md,
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("uuid", String(36), nullable=False, unique=True),
        Column("username", String(191), nullable=False, unique=True),
        Column("nickname", String(255), nullable=False, server_default=""),
        Column("email", String(255), nullable=False, server_default=""),
        Column("avatar", String(255), nullable=False, server_default=""),
        Column("password_hash", String(255), nullable=False),
        # The client's language (chat_trio.languages); "" follows the browser.
        Column("language", String(16), nullable=False, server_default=""),
        Column("created_at", BigInteger, nullable=False),
        Column("updated_at", BigInteger, nullable=False),
        **MYSQL_TABLE_ARGS,
    )
    user_friends = Table(
        f"{prefix}user_friends",
        md,
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("user_id", _ID, ForeignKey(users.c.id), nullable=False),
        Column("friend_id", _ID, ForeignKey(users.c.id), nullable=False),
        Column("created_at", BigInteger, nullable=False),
        UniqueConstraint("user_id", "friend_id", name=f"{prefix}uq_user_friends_pair"),
        **MYSQL_TABLE_ARGS,
    )
    groups = Table(
        f"{prefix}groups",
        md,
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("uuid", String(36), nullable=False, unique=True),
        Column("user_id", _ID, ForeignKey(users.c.id), nullable=False),
        Column("name", String(191), nullable=False, unique=True),
        Column("notice", String(1024), nullable=False, server_default=""),
        Column("created_at", BigInteger, nullable=False),
        **MYSQL_TABLE_ARGS,
    )
    group_members = Table(
        f"{prefix}group_members",
        md,
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("group_id", _ID, ForeignKey(groups.c.id), nullable=False),
        Column("user_id", _ID, ForeignKey(users.c.id), nullable=False),
        Column("nickname", String(255), nullable=False, server_default=""),
        Column("created_at", BigInteger, nullable=False),
        UniqueConstraint("group_id", "user_id", name=f"{prefix}uq_group_members_pair"),
        Index(f"{prefix}ix_group_members_user", "user_id"),
        **MYSQL_TABLE_ARGS,
    )
    messages = Table(
        f"{prefix}messages",
        md,
        Column("id", _ID, primary_key=True, autoincrement=True),
        # A user id for both kinds; to_user_id is a user id (message_type 1) or a
        # group id (message_type 2), as in go-chat.
        Column("from_user_id", _ID, ForeignKey(users.c.id), nullable=False),
        Column("to_user_id", _ID, nullable=False),
        Column("message_type", SmallInteger, nullable=False),
        Column("content_type", SmallInteger, nullable=False),
        Column("content", _LONG_TEXT, nullable=False),
        Column("url", String(255), nullable=False, server_default=""),
        Column("client_id", String(64), nullable=True),
        Column("created_at", BigInteger, nullable=False),
        # Who may read the row, as full-text tokens (search_scope()): indexed with
        # the content so that a search finds only the caller's conversations
        Column("search_scope", String(48), nullable=False, server_default=""),
        # A client's retry of the same client id is found, not stored twice.
        UniqueConstraint("from_user_id", "client_id", name=f"{prefix}uq_messages_client"),
        Index(f"{prefix}ix_messages_conversation", "from_user_id", "to_user_id", "id"),
        Index(f"{prefix}ix_messages_to", "message_type", "to_user_id", "id"),
        # Unread counts and conversation lists, read from the index alone: a 1:1
        # conversation's messages from one side after an id, and who wrote to a user.
        Index(
            f"{prefix}ix_messages_inbox", "message_type", "to_user_id", "from_user_id", "id"
        ),
        # message search on MySQL/MariaDB; SQLite has its FTS5 table instead
        # (search_ddl_sqlite), so this index exists only there
        # (both spellings: the mariadb dialect reads only its own)
        Index(
            f"{prefix}ft_messages_content", "content", "search_scope",
            mysql_prefix="FULLTEXT", mariadb_prefix="FULLTEXT",
        # a tuple is documented for ddl_if, though its annotation says str
        ).ddl_if(dialect=("mysql", "mariadb")),  # type: ignore[arg-type]
        **MYSQL_TABLE_ARGS,
    )
    for statement in search_ddl_sqlite(messages.name):
        ddl = DDL(statement)  # type: ignore[no-untyped-call]
        event.listen(messages, "after_create", ddl.execute_if(dialect="sqlite"))
    sessions = Table(
        f"{prefix}sessions",
        md,
        Column("id", _ID, primary_key=True, autoincrement=True),
        # sha256 of the token: a leaked table does not hand out logins.
        Column("token_hash", String(64), nullable=False, unique=True),
        Column("user_id", _ID, ForeignKey(users.c.id), nullable=False),
        Column("created_at", BigInteger, nullable=False),
        Column("expires_at", BigInteger, nullable=False),
        Index(f"{prefix}ix_sessions_user", "user_id"),
        **MYSQL_TABLE_ARGS,
    )
    files = Table(
        f"{prefix}files",
        md,
        # Every file in the upload folder, with who stored it: what the per-user
        # quota adds up. A row is written before the bytes (``pending`` 1, ``size``
        # the most the upload may take) so that concurrent uploads cannot together
        # pass the quota; it gets the stored name and the real size once the file
        # is in place, and is deleted if the upload fails.
        Column("id", _ID, primary_key=True, autoincrement=True),
        # the file's name in the upload folder (while pending: its random part)
        Column("name", String(64), nullable=False, unique=True),
        Column("user_id", _ID, ForeignKey(users.c.id), nullable=False),
        Column("size", BigInteger, nullable=False),
        Column("pending", SmallInteger, nullable=False, server_default="0"),
        Column("created_at", BigInteger, nullable=False),
        Index(f"{prefix}ix_files_user", "user_id"),
        **MYSQL_TABLE_ARGS,
    )
    schema_version = Table(
        f"{prefix}schema_version",
        md,
        Column("version", Integer, primary_key=True, autoincrement=False),
        Column("applied_at", BigInteger, nullable=False),
        **MYSQL_TABLE_ARGS,
    )
    friend_requests = Table(
        f"{prefix}friend_requests",
        md,
        # A pending request only: accepting turns it into two user_friends rows,
        # declining or cancelling deletes it. One per direction and pair.
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("from_user_id", _ID, ForeignKey(users.c.id), nullable=False),
        Column("to_user_id", _ID, ForeignKey(users.c.id), nullable=False),
        Column("created_at", BigInteger, nullable=False),
        UniqueConstraint("from_user_id", "to_user_id", name=f"{prefix}uq_friend_requests_pair"),
        Index(f"{prefix}ix_friend_requests_to", "to_user_id"),
        **MYSQL_TABLE_ARGS,
    )
    user_blocks = Table(
        f"{prefix}user_blocks",
        md,
        # user_id blocked blocked_id: no 1:1 messages, calls or friend requests
        # between the two, in either direction, until user_id unblocks.
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("user_id", _ID, ForeignKey(users.c.id), nullable=False),
        Column("blocked_id", _ID, ForeignKey(users.c.id), nullable=False),
        Column("created_at", BigInteger, nullable=False),
        UniqueConstraint("user_id", "blocked_id", name=f"{prefix}uq_user_blocks_pair"),
        Index(f"{prefix}ix_user_blocks_blocked", "blocked_id"),
        **MYSQL_TABLE_ARGS,
    )
    last_seen = Table(
        f"{prefix}last_seen",
        md,
        # When each user's last live session ended (on any node); no row: never
        # seen since this table exists. Written by chat_trio/presence.py.
        Column("user_id", _ID, ForeignKey(users.c.id), primary_key=True, autoincrement=False),
        Column("seen_at", BigInteger, nullable=False),
        **MYSQL_TABLE_ARGS,
    )
    conversation_states = Table(
        f"{prefix}conversation_states",
        md,
        # One user's state of one conversation: a 1:1 peer (message_type 1, peer_id
        # a user id) or a group (message_type 2, peer_id a group id), as messages
        # name them. read_id is the newest message id the user has read there (it
        # only grows); muted is 1 when the user muted the conversation.
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("user_id", _ID, ForeignKey(users.c.id), nullable=False),
        Column("message_type", SmallInteger, nullable=False),
        Column("peer_id", _ID, nullable=False),
        Column("read_id", BigInteger, nullable=False, server_default="0"),
        Column("muted", SmallInteger, nullable=False, server_default="0"),
        Column("updated_at", BigInteger, nullable=False),
        UniqueConstraint(
            "user_id", "message_type", "peer_id", name=f"{prefix}uq_conversation_states"
        ),
        # who in a conversation has read past a message ("seen by")
        Index(f"{prefix}ix_conversation_states_peer", "message_type", "peer_id", "read_id"),
        **MYSQL_TABLE_ARGS,
    )
    user_settings = Table(
        f"{prefix}user_settings",
        md,
        # Per-user settings; a user without a row has the defaults.
        Column("user_id", _ID, ForeignKey(users.c.id), primary_key=True, autoincrement=False),
        # 0: this user's read positions are shown to nobody, and they see nobody's.
        Column("read_receipts", SmallInteger, nullable=False, server_default="1"),
        Column("updated_at", BigInteger, nullable=False),
        **MYSQL_TABLE_ARGS,
    )
    return Schema(
        metadata=md,
        users=users,
        user_friends=user_friends,
        groups=groups,
        group_members=group_members,
        messages=messages,
        sessions=sessions,
        files=files,
        schema_version=schema_version,
        friend_requests=friend_requests,
        user_blocks=user_blocks,
        last_seen=last_seen,
        conversation_states=conversation_states,
        user_settings=user_settings,
    )


#: Only text messages (content type 1) are searchable.
SEARCHABLE_CONTENT_TYPE = 1


def search_table_sqlite(messages: str) -> str:
    """The name of the FTS5 table over ``messages`` on SQLite."""
    return f"{messages}_fts"


def search_scope(message_type: int, from_id: int, to_id: int) -> str:
    """The ``search_scope`` of a message: ``usr<sender id> usr<recipient id>`` for a
    one-to-one message, ``grp<group id>`` for a group's.

    Made from the row's ids, never from its text. A search adds ``usr<me>`` or
    one of ``grp<each group of mine>`` to what the index must match, so the
    index alone narrows the candidates to the caller's conversations: a common
    word costs a walk over its index entries, not one row read per message that
    holds it (docs/performance.md, "Message search"). The SQL around it still
    checks every row's permission itself. Each token is at least 4 characters:
    InnoDB does not index tokens shorter than ``innodb_ft_min_token_size`` (3).
    """
    if message_type == 1:
        return f"usr{from_id} usr{to_id}"
    return f"grp{to_id}"


def search_scope_sql(messages: Table) -> ColumnElement[str]:
    """:func:`search_scope` in SQL, for the rows stored before the column existed."""
    m = messages.c
    return case(
        (
            m.message_type == 1,
            literal("usr") + cast(m.from_user_id, String) + literal(" usr")
            + cast(m.to_user_id, String),
        ),
        else_=literal("grp") + cast(m.to_user_id, String),
    )


def search_ddl_sqlite(messages: str) -> list[str]:
    """The FTS5 external-content table over the text messages, and the triggers that
    keep it in step with every INSERT, UPDATE and DELETE.

    External content: the index holds only the tokens; the text stays in the
    messages table (read back by rowid), so search costs no second copy of every
    message. It indexes ``content`` and ``search_scope`` (:func:`search_scope`).
    ``unicode61 remove_diacritics 2`` folds case and accents, as MariaDB's
    utf8mb4_unicode_ci collation does.

    A row is in the index exactly when its content type is text, and each
    trigger tests the same condition, so the index never holds a row the table
    does not (which external content requires for its 'delete' command).
    """
    fts = search_table_sqlite(messages)
    text = SEARCHABLE_CONTENT_TYPE
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5(content, search_scope, "
        f"content='{messages}', content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_insert AFTER INSERT ON {messages} "
        f"WHEN new.content_type = {text} BEGIN "
        f"INSERT INTO {fts}(rowid, content, search_scope) "
        f"VALUES (new.id, new.content, new.search_scope); END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_delete AFTER DELETE ON {messages} "
        f"WHEN old.content_type = {text} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, content, search_scope) "
        f"VALUES ('delete', old.id, old.content, old.search_scope); END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_update AFTER UPDATE OF content, content_type, "
        f"search_scope ON {messages} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, content, search_scope) "
        f"SELECT 'delete', old.id, old.content, old.search_scope "
        f"WHERE old.content_type = {text}; "
        f"INSERT INTO {fts}(rowid, content, search_scope) "
        f"SELECT new.id, new.content, new.search_scope WHERE new.content_type = {text}; END",
    ]


#: One upgrade step: given a connection inside a transaction and the schema.
Migration = Callable[[Connection, Schema], None]



def _add_files(conn: Connection, schema: Schema) -> None:
    """Version 2: the ``files`` table (owner and size of every stored file).

    Files stored before it have no row, so they count toward nobody's quota.
    """
    schema.files.create(conn, checkfirst=True)


def _add_friend_requests_and_blocks(conn: Connection, schema: Schema) -> None:
    """Version 3: pending friend requests and blocks (``friend_requests``,
    ``user_blocks``). Existing friendships stay as they are."""
    schema.friend_requests.create(conn, checkfirst=True)
    schema.user_blocks.create(conn, checkfirst=True)


def _add_last_seen_for_presence(conn: Connection, schema: Schema) -> None:
    """Version 4: the ``last_seen`` table (when each user was last online).

    Users who were offline before it have no row: their last seen is unknown.
    """
    schema.last_seen.create(conn, checkfirst=True)


def _add_read_state(conn: Connection, schema: Schema) -> None:
    """Version 5: read positions and mutes per conversation (``conversation_states``),
    per-user settings (``user_settings``), and the messages index that unread counts
    are read from (``ix_messages_inbox``).

    Nobody has a read position yet, so every stored message counts as unread
    until its reader's client marks the conversation read.
    """
    schema.conversation_states.create(conn, checkfirst=True)
    schema.user_settings.create(conn, checkfirst=True)
    inbox = next(i for i in schema.messages.indexes if str(i.name).endswith("ix_messages_inbox"))
    inbox.create(conn, checkfirst=True)


def _add_user_language(conn: Connection, schema: Schema) -> None:
    """Version 6: ``users.language``, the language the user chose for the client.

    Every existing user gets "" (follow the browser). Skipped when the column is
    there already: MySQL commits the ALTER at once, so a step cut short after it
    runs again on the next start.
    """
    users = schema.users
    if "language" in {c["name"] for c in inspect(conn).get_columns(users.name)}:
        return
    column = users.c.language
    ddl = CreateColumn(column).compile(dialect=conn.dialect)
    table = conn.dialect.identifier_preparer.quote(users.name)
    conn.execute(text(f"ALTER TABLE {table} ADD {ddl}"))


def _add_message_search(conn: Connection, schema: Schema) -> None:
    """Version 7: message search, with every stored text message in the index.

    The ``search_scope`` column, filled for the rows already there; then on
    SQLite the FTS5 table and its triggers, and every text message copied in;
    on MySQL/MariaDB the FULLTEXT index on (content, search_scope), which
    InnoDB builds from the rows (on a large table this takes a while, once).
    Safe to run again: each part is made only if it is missing.
    """
    messages = schema.messages
    with _no_read_timeout(conn):
        _add_search_parts(conn, messages)


@contextmanager
def _no_read_timeout(conn: Connection) -> Iterator[None]:
    """Lift PyMySQL's read timeout ([mysql] timeout, seconds) while a step rewrites
    a table: filling a column and building a FULLTEXT index over a million rows
    takes minutes, and a timeout would leave the upgrade half done and retried."""
    raw = conn.connection.dbapi_connection
    previous = getattr(raw, "_read_timeout", None)
    if hasattr(raw, "_read_timeout"):
        setattr(raw, "_read_timeout", None)  # noqa: B010 (a private attribute)
    try:
        yield
    finally:
        if hasattr(raw, "_read_timeout"):
            setattr(raw, "_read_timeout", previous)  # noqa: B010


def _add_search_parts(conn: Connection, messages: Table) -> None:
    if "search_scope" not in {c["name"] for c in inspect(conn).get_columns(messages.name)}:
        column = messages.c.search_scope
        kind = column.type.compile(dialect=conn.dialect)
        conn.exec_driver_sql(
            f"ALTER TABLE {conn.dialect.identifier_preparer.quote(messages.name)} "
            f"ADD COLUMN search_scope {kind} NOT NULL DEFAULT ''"
        )
    conn.execute(
        messages.update()
        .where(messages.c.search_scope == "")
        .values(search_scope=search_scope_sql(messages))
    )
    if conn.dialect.name == "sqlite":
        fts = search_table_sqlite(messages.name)
        fresh = not inspect(conn).has_table(fts)
        for statement in search_ddl_sqlite(messages.name):
            conn.exec_driver_sql(statement)
        if fresh:
            conn.exec_driver_sql(
                f"INSERT INTO {fts}(rowid, content, search_scope) "
                f"SELECT id, content, search_scope FROM {messages.name} "
                f"WHERE content_type = {SEARCHABLE_CONTENT_TYPE}"
            )
        return
    have = {ix["name"] for ix in inspect(conn).get_indexes(messages.name)}
    for index in messages.indexes:
        if index.name not in have and index.dialect_options["mysql"]["prefix"] == "FULLTEXT":
            index.create(conn)


#: MIGRATIONS[n] takes a database at version n-1 to version n; version 1 is the
#: first schema, so the keys are exactly 2..SCHEMA_VERSION.
MIGRATIONS: dict[int, Migration] = {
    2: _add_files,
    3: _add_friend_requests_and_blocks,
    4: _add_last_seen_for_presence,
    5: _add_read_state,
    6: _add_user_language,
    7: _add_message_search,
}
