"""Finding people and groups by part of a name: the SQL, run in a worker thread.

A user matches when the query occurs in their username or nickname, a group
when it occurs in its name, ignoring case. Matches are ranked: an exact name
first, then names that start with the query, then names that merely contain
it; within a rank, shorter names first (closer to what was typed), then by
name. At most ``limit`` come back.

The query is user input inside a LIKE pattern, so its ``%`` and ``_`` (and
the escape character itself) are escaped: searching for ``50%`` finds "50%",
not every name starting with 50. Both sides are lowered by the database itself
(``lower()``), so SQLite and MariaDB agree with themselves: SQLite folds ASCII
letters only; MariaDB's utf8mb4_unicode_ci also folds accents.

A substring cannot use an index: each search scans the users (or groups)
table. That is milliseconds for tens of thousands of rows; the route caps
the query's length and the answer's size.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Engine, case, func, literal, or_, select

from chat_trio.model import Group, User
from chat_trio.storage.schema import Schema

#: The LIKE escape character (not a backslash: MySQL treats that specially in literals).
ESCAPE = "/"


def like_escaped(text: str) -> str:
    """``text`` with LIKE's wildcards and the escape character escaped."""
    return text.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")


def _rank(
    names: list[ColumnElement[str]], query: str
) -> tuple[ColumnElement[int], ColumnElement[bool]]:
    """(rank expression, match condition) of ``query`` against lowered ``names``."""
    escaped = like_escaped(query)
    exact = func.lower(literal(query))
    prefix = func.lower(literal(escaped + "%"))
    anywhere = func.lower(literal("%" + escaped + "%"))
    lowered = [func.lower(n) for n in names]
    rank = case(
        (or_(*(n == exact for n in lowered)), 0),
        (or_(*(n.like(prefix, escape=ESCAPE) for n in lowered)), 1),
        else_=2,
    )
    return rank, or_(*(n.like(anywhere, escape=ESCAPE) for n in lowered))


def search_users(engine: Engine, schema: Schema, query: str, limit: int) -> list[User]:
    u = schema.users
    rank, match = _rank([u.c.username, u.c.nickname], query)
    statement = (
        select(u.c.id, u.c.uuid, u.c.username, u.c.nickname, u.c.email, u.c.avatar)
        .where(match)
        .order_by(rank, func.length(u.c.username), u.c.username)
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(statement).all()
    return [
        User(
            id=r.id, uuid=r.uuid, username=r.username, nickname=r.nickname, email=r.email,
            avatar=r.avatar,
        )
        for r in rows
    ]


def search_groups(engine: Engine, schema: Schema, query: str, limit: int) -> list[Group]:
    g = schema.groups
    rank, match = _rank([g.c.name], query)
    statement = (
        select(g).where(match).order_by(rank, func.length(g.c.name), g.c.name).limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(statement).all()
    return [
        Group(
            id=r.id, uuid=r.uuid, owner_id=r.user_id, name=r.name, notice=r.notice,
            created_at_ms=r.created_at,
        )
        for r in rows
    ]
