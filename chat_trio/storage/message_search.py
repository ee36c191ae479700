"""Message search in SQL: FTS5 on SQLite, FULLTEXT (InnoDB) on MySQL/MariaDB.

The query shape is the same on both. The full-text index is asked for the
terms in ``content`` AND one of the caller's scope tokens in ``search_scope``
(``usr<me>`` or ``grp<each group of mine>``, schema.search_scope), so the index
alone narrows the candidates to the caller's conversations; it hands them out
newest first, the permission test (the caller's one-to-one messages and the
groups it is a member of now, checked on the row itself, whatever the index
said) and the filters are conditions on the same rows, and ``LIMIT`` stops the
walk as soon as a page is full. On MySQL/MariaDB that statement runs under a
time limit (WORDS_FIRST_SECONDS); past it, the page is asked for "scope first"
(the index asked for the caller's scope only, every word a ``LIKE``), which
costs as much as the caller's own messages instead of as much as the messages
holding a common word. Every candidate is then checked in Python
against the parsed terms (chat_trio/search.py), which makes both backends agree
and lets MariaDB's ``LIKE`` part (words its index does not hold) be a plain
substring test.

Blocking: these functions run in the store's worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Select,
    and_,
    column,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.exc import DBAPIError

from chat_trio.model import MessageType
from chat_trio.search import (
    INNODB_DEFAULT_STOPWORDS,
    MysqlQuery,
    MysqlTokens,
    Term,
    fts5_match,
    like_pattern,
    matches,
    mysql_boolean,
)
from chat_trio.storage.schema import SEARCHABLE_CONTENT_TYPE, Schema, search_table_sqlite

#: How many candidate rows one page may check at most, in rounds of SQL; past
#: this, the page comes back short with a cursor to go on from. Only queries
#: whose candidates mostly fail the check in Python (MariaDB with short words)
#: ever need more than one round.
MAX_ROUNDS = 8

#: On MySQL/MariaDB, how long the words-first statement may run before it is
#: stopped and the page is asked for "scope first" instead: the FULLTEXT index
#: asked only for the caller's scope tokens, every word a LIKE on those rows.
#: InnoDB reads the whole entry list of every word it is asked for, so a common
#: word costs as much as the messages that hold it (seconds for a phrase of two
#: words found in half of a million messages), while scope first costs as much
#: as the caller's own messages (tens of ms for a thousand: one row read each).
#: 0: always scope first.
WORDS_FIRST_SECONDS = 0.1

#: The server's refusal of a statement that ran past its time limit.
#: MariaDB ER_STATEMENT_TIMEOUT, MySQL ER_QUERY_TIMEOUT, and what InnoDB's full-text
#: search reports when the limit stops it (HA_ERR_ABORTED_BY_USER, "Unknown error 188")
_STATEMENT_TIMEOUT = {1969, 3024, 188}


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """One page of a search, by ids resolved and checked by the caller.

    ``peer_id`` (a one-to-one conversation) or ``group_id`` (a group the caller
    is a member of) narrows the search to one conversation; ``sender_id`` to one
    sender; ``after_ms``/``before_ms`` to a time range (exclusive); ``cursor`` to
    messages with a smaller id (the ``next`` of the previous page).
    """

    user_id: int
    terms: tuple[Term, ...]
    limit: int
    peer_id: int | None = None
    group_id: int | None = None
    sender_id: int | None = None
    after_ms: int | None = None
    before_ms: int | None = None
    cursor: int | None = None


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A message found, with its conversation as the caller sees it: the peer of
    a one-to-one message, or the group."""

    id: int
    message_type: int
    conversation_uuid: str
    conversation_name: str
    from_uuid: str
    from_username: str
    created_at_ms: int
    content: str


@dataclass(frozen=True, slots=True)
class SearchPage:
    """``next``: the cursor for the following page, None when nothing is left."""

    hits: list[SearchHit]
    next: int | None


class MessageSearch:
    """Runs searches for one store: the dialect decides the index used."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self._mysql_tokens: MysqlTokens | None = None

    @cached_property
    def _fts(self) -> str:
        return search_table_sqlite(self.schema.messages.name)

    def _readable(self, request: SearchRequest) -> ColumnElement[bool]:
        """The rows the caller may read (narrowed to one conversation if asked)."""
        m, gm = self.schema.messages, self.schema.group_members
        me = request.user_id
        if request.peer_id is not None:
            peer = request.peer_id
            return and_(
                m.c.message_type == int(MessageType.USER),
                or_(
                    and_(m.c.from_user_id == me, m.c.to_user_id == peer),
                    and_(m.c.from_user_id == peer, m.c.to_user_id == me),
                ),
            )
        if request.group_id is not None:
            # the caller's membership was checked when the group was resolved
            return and_(
                m.c.message_type == int(MessageType.GROUP), m.c.to_user_id == request.group_id
            )
        my_groups = select(gm.c.group_id).where(gm.c.user_id == me)
        return or_(
            and_(
                m.c.message_type == int(MessageType.USER),
                or_(m.c.from_user_id == me, m.c.to_user_id == me),
            ),
            and_(m.c.message_type == int(MessageType.GROUP), m.c.to_user_id.in_(my_groups)),
        )

    def _filters(self, request: SearchRequest, below: int | None) -> list[ColumnElement[bool]]:
        m = self.schema.messages
        where = [m.c.content_type == SEARCHABLE_CONTENT_TYPE, self._readable(request)]
        if request.sender_id is not None:
            where.append(m.c.from_user_id == request.sender_id)
        if request.after_ms is not None:
            where.append(m.c.created_at > request.after_ms)
        if request.before_ms is not None:
            where.append(m.c.created_at < request.before_ms)
        if below is not None:
            where.append(m.c.id < below)
        return where

    def _query(
        self, conn: Connection, request: SearchRequest, below: int | None, size: int,
        scope_first: bool = False,
    ) -> Select[tuple[int, int, int, int, str, int]]:
        m = self.schema.messages
        columns = (
            m.c.id, m.c.from_user_id, m.c.to_user_id, m.c.message_type, m.c.content,
            m.c.created_at,
        )
        where = self._filters(request, below)
        if conn.dialect.name == "sqlite":
            fts = table(self._fts, column("rowid"))
            scope = " AND ".join(
                "(" + " OR ".join(f'"{t}"' for t in choice) + ")"
                for choice in self._scope(conn, request)
            )
            match = f"content : ({fts5_match(request.terms)}) AND search_scope : ({scope})"
            # the FTS5 table drives: it hands out the rowids that hold the terms
            # and are in the caller's conversations, newest first; each row is
            # looked up by its key and tested, and the walk stops at a full page
            return (
                select(*columns)
                .select_from(fts)
                .join(m, m.c.id == fts.c.rowid, full=False)
                .where(text(f"{self._fts} MATCH :match").bindparams(match=match))
                .where(*where)
                .order_by(literal_column(f"{self._fts}.rowid").desc())
                .limit(size)
            )
        translated = mysql_boolean(request.terms, self._tokens(conn))
        scope = " ".join(
            "+(" + " ".join(choice) + ")" for choice in self._scope(conn, request)
        )
        against = f"{translated.against} {scope}".strip()
        if scope_first:
            # the index finds the caller's messages only; every word is a LIKE
            words = dict.fromkeys(w for t in request.terms for w in t.words)
            translated = MysqlQuery("", tuple(words))
            against = scope
        found = mysql.match(m.c.content, m.c.search_scope, against=against)
        where.append(found.in_boolean_mode())
        for word in translated.like:
            where.append(m.c.content.like(like_pattern(word), escape="\\"))
        return select(*columns).where(*where).order_by(m.c.id.desc()).limit(size)

    def _words_first(
        self, conn: Connection, request: SearchRequest, below: int | None, size: int
    ) -> Sequence[Row[tuple[int, int, int, int, str, int]]] | None:
        """The words-first statement under a time limit; None if it ran past it."""
        query = self._query(conn, request, below, size)
        if conn.dialect.name == "mariadb":
            limit = f"SET STATEMENT max_statement_time={WORDS_FIRST_SECONDS:.3f} FOR "
        else:
            limit = f"SELECT /*+ MAX_EXECUTION_TIME({int(WORDS_FIRST_SECONDS * 1000)}) */ "
        compiled = query.compile(conn, compile_kwargs={"render_postcompile": True})
        sql = str(compiled)
        sql = limit + sql if limit.startswith("SET") else limit + sql.removeprefix("SELECT ")
        try:
            return conn.exec_driver_sql(sql, compiled.params).all()
        except DBAPIError as exc:
            if exc.orig is None or exc.orig.args[0] not in _STATEMENT_TIMEOUT:
                raise
            conn.rollback()
            return None

    def _scope(self, conn: Connection, request: SearchRequest) -> list[list[str]]:
        """The scope tokens (schema.search_scope) the index must match: each inner
        list is one required choice (any of its tokens)."""
        me = request.user_id
        if request.peer_id is not None:
            return [[f"usr{me}"], [f"usr{request.peer_id}"]]
        if request.group_id is not None:
            return [[f"grp{request.group_id}"]]
        gm = self.schema.group_members
        groups = conn.execute(select(gm.c.group_id).where(gm.c.user_id == me)).scalars()
        return [[f"usr{me}", *(f"grp{int(g)}" for g in groups)]]

    def _tokens(self, conn: Connection) -> MysqlTokens:
        """What the server's full-text index holds: token sizes and stopwords, read once."""
        if self._mysql_tokens is None:
            row = conn.exec_driver_sql(
                "SELECT @@innodb_ft_min_token_size, @@innodb_ft_max_token_size, "
                "@@innodb_ft_enable_stopword, @@innodb_ft_server_stopword_table"
            ).one()
            stopwords: frozenset[str] = frozenset()
            if row[2]:
                stopwords = INNODB_DEFAULT_STOPWORDS
                source = (
                    "INFORMATION_SCHEMA.INNODB_FT_DEFAULT_STOPWORD"
                    if not row[3]
                    else ".".join(f"`{p}`" for p in str(row[3]).split("/"))
                )
                try:
                    values = conn.exec_driver_sql(f"SELECT value FROM {source}").scalars()
                    stopwords = frozenset(str(v).casefold() for v in values)
                except Exception:  # no PROCESS privilege, say: the built-in list
                    conn.rollback()
            self._mysql_tokens = MysqlTokens(int(row[0]), int(row[1]), stopwords)
        return self._mysql_tokens

    def run(self, conn: Connection, request: SearchRequest) -> SearchPage:
        """One page: at most ``limit`` hits, newest first, and the next cursor."""
        found: list[Row[tuple[int, int, int, int, str, int]]] = []
        below = request.cursor
        size = request.limit + 1
        scope_first = conn.dialect.name != "sqlite" and WORDS_FIRST_SECONDS <= 0
        for _ in range(MAX_ROUNDS):
            rows = None
            if conn.dialect.name != "sqlite" and not scope_first:
                rows = self._words_first(conn, request, below, size)
                scope_first = rows is None
            if rows is None:
                rows = conn.execute(self._query(conn, request, below, size, scope_first)).all()
            for row in rows:
                if matches(request.terms, row.content):
                    found.append(row)
                    if len(found) == request.limit:
                        return SearchPage(self._hits(conn, request.user_id, found), row.id)
            if len(rows) < size:
                return SearchPage(self._hits(conn, request.user_id, found), None)
            below = rows[-1].id
            size = 4 * request.limit
        return SearchPage(self._hits(conn, request.user_id, found), below)

    def _hits(
        self, conn: Connection, me: int, rows: Sequence[Row[tuple[int, int, int, int, str, int]]]
    ) -> list[SearchHit]:
        """The rows with their sender and conversation named (one query for each kind)."""
        u, g = self.schema.users, self.schema.groups
        user_ids = {r.from_user_id for r in rows} | {
            r.to_user_id for r in rows if r.message_type == int(MessageType.USER)
        }
        group_ids = {r.to_user_id for r in rows if r.message_type == int(MessageType.GROUP)}
        users = {
            r.id: (r.uuid, r.username)
            for r in conn.execute(
                select(u.c.id, u.c.uuid, u.c.username).where(u.c.id.in_(user_ids or {0}))
            )
        }
        groups = {
            r.id: (r.uuid, r.name)
            for r in conn.execute(
                select(g.c.id, g.c.uuid, g.c.name).where(g.c.id.in_(group_ids or {0}))
            )
        }
        hits = []
        for r in rows:
            if r.message_type == int(MessageType.GROUP):
                where = groups.get(r.to_user_id, ("", ""))
            else:
                peer = r.to_user_id if r.from_user_id == me else r.from_user_id
                where = users.get(peer, ("", ""))
            sender = users.get(r.from_user_id, ("", ""))
            hits.append(
                SearchHit(
                    id=r.id, message_type=r.message_type, conversation_uuid=where[0],
                    conversation_name=where[1], from_uuid=sender[0], from_username=sender[1],
                    created_at_ms=r.created_at, content=r.content,
                )
            )
        return hits
