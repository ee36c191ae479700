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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    DDL,
    BigInteger,
    Column,
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
    event,
    inspect,
)
from sqlalchemy.dialects import mysql

SCHEMA_VERSION = 3

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
        # A client's retry of the same client id is found, not stored twice.
        UniqueConstraint("from_user_id", "client_id", name=f"{prefix}uq_messages_client"),
        Index(f"{prefix}ix_messages_conversation", "from_user_id", "to_user_id", "id"),
        Index(f"{prefix}ix_messages_to", "message_type", "to_user_id", "id"),
        # message search on MySQL/MariaDB; SQLite has its FTS5 table instead
        # (search_ddl_sqlite), so this index exists only there
        # (both spellings: the mariadb dialect reads only its own)
        Index(
            f"{prefix}ft_messages_content", "content",
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
    )


#: Only text messages (content type 1) are searchable.
SEARCHABLE_CONTENT_TYPE = 1


def search_table_sqlite(messages: str) -> str:
    """The name of the FTS5 table over ``messages`` on SQLite."""
    return f"{messages}_fts"


def search_ddl_sqlite(messages: str) -> list[str]:
    """The FTS5 external-content table over the text messages, and the triggers that
    keep it in step with every INSERT, UPDATE of the content and DELETE.

    External content: the index holds only the tokens; the text stays in the
    messages table (read back by rowid), so search costs no second copy of every
    message. ``unicode61 remove_diacritics 2`` folds case and accents, as
    MariaDB's utf8mb4_unicode_ci collation does. A row is in the index exactly
    when its content type is text, and each trigger tests the same condition,
    so the index never holds a row the table does not (which external content
    requires for its 'delete' command).
    """
    fts = search_table_sqlite(messages)
    text = SEARCHABLE_CONTENT_TYPE
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5(content, content='{messages}', "
        "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_insert AFTER INSERT ON {messages} "
        f"WHEN new.content_type = {text} BEGIN "
        f"INSERT INTO {fts}(rowid, content) VALUES (new.id, new.content); END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_delete AFTER DELETE ON {messages} "
        f"WHEN old.content_type = {text} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, content) VALUES ('delete', old.id, old.content); END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_update AFTER UPDATE OF content, content_type "
        f"ON {messages} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, content) SELECT 'delete', old.id, old.content "
        f"WHERE old.content_type = {text}; "
        f"INSERT INTO {fts}(rowid, content) SELECT new.id, new.content "
        f"WHERE new.content_type = {text}; END",
    ]


#: One upgrade step: given a connection inside a transaction and the schema.
Migration = Callable[[Connection, Schema], None]



def _add_files(conn: Connection, schema: Schema) -> None:
    """Version 2: the ``files`` table (owner and size of every stored file).

    Files stored before it have no row, so they count toward nobody's quota.
    """
    schema.files.create(conn, checkfirst=True)


def _add_message_search(conn: Connection, schema: Schema) -> None:
    """Version 3: the full-text index of text messages, with every stored one in it.

    SQLite: the FTS5 table and its triggers, then every text message copied in.
    MySQL/MariaDB: the FULLTEXT index on ``messages.content`` (InnoDB builds it
    from the rows already there; on a large table this takes a while, once).
    Safe to run again: each part is created only if it is missing.
    """
    messages = schema.messages
    if conn.dialect.name == "sqlite":
        fts = search_table_sqlite(messages.name)
        fresh = not inspect(conn).has_table(fts)
        for statement in search_ddl_sqlite(messages.name):
            conn.exec_driver_sql(statement)
        if fresh:
            conn.exec_driver_sql(
                f"INSERT INTO {fts}(rowid, content) SELECT id, content FROM {messages.name} "
                f"WHERE content_type = {SEARCHABLE_CONTENT_TYPE}"
            )
        return
    have = {ix["name"] for ix in inspect(conn).get_indexes(messages.name)}
    for index in messages.indexes:
        if index.name not in have and index.dialect_options["mysql"]["prefix"] == "FULLTEXT":
            index.create(conn)


#: MIGRATIONS[n] takes a database at version n-1 to version n; version 1 is the
#: first schema, so the keys are exactly 2..SCHEMA_VERSION.
MIGRATIONS: dict[int, Migration] = {2: _add_files, 3: _add_message_search}
