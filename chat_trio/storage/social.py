"""Friend requests, friendships and blocks: the SQL, as plain functions run in a worker thread.

SqlStore (storage/sql.py) wraps each in an async method. Every change between
two users runs in one transaction that first locks both users' rows (in id
order, so two changes cannot deadlock), so that two nodes acting on the same
pair at once see each other's work: a request and the reverse request sent at
the same moment end as one friendship, not as two crossed pending requests.
(SQLite has a single writer anyway; the lock is a no-op there.)

The outcomes are strings, not exceptions: whether "already friends" is an
error is the caller's business (the API answers 409, a migration would not
care).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeVarTuple

from sqlalchemy import Connection, Engine, Row, and_, delete, insert, or_, select

from chat_trio.model import User
from chat_trio.storage.schema import Schema

#: The column types of a row, whatever they are.
Ts = TypeVarTuple("Ts")

#: What sending a request did: "requested" (a new pending request), "accepted"
#: (the other user had already asked: now friends), or why nothing changed:
#: "friends" (already), "pending" (already asked), "blocked" (the sender blocked
#: the other user), "blocked_by" (the other user blocked the sender).
RequestOutcome = Literal["requested", "accepted", "friends", "pending", "blocked", "blocked_by"]

#: What answering or cancelling a request did: "done", or "none" (there is no
#: such request), or "wrong_side" (the request exists the other way round: the
#: caller sent what they try to accept or decline, or received what they try to
#: cancel).
AnswerOutcome = Literal["done", "none", "wrong_side"]


@dataclass(frozen=True, slots=True)
class PendingRequest:
    """A pending friend request as one side sees it: the other user, and when."""

    user: User
    created_at_ms: int


@dataclass(frozen=True, slots=True)
class BlockOutcome:
    """What blocking did: False in ``blocked`` when it was already in place; and
    which ties between the two it ended."""

    blocked: bool
    was_friend: bool = False
    #: The blocked user had asked the blocker to be friends.
    had_incoming: bool = False
    #: The blocker had asked the blocked user.
    had_outgoing: bool = False


def _user(row: Row[*Ts]) -> User:
    m = row._mapping
    return User(
        id=m["id"], uuid=m["uuid"], username=m["username"], nickname=m["nickname"],
        email=m["email"], avatar=m["avatar"],
    )


def _lock_pair(conn: Connection, schema: Schema, a: int, b: int) -> None:
    u = schema.users
    conn.execute(
        select(u.c.id).where(u.c.id.in_(sorted((a, b)))).order_by(u.c.id).with_for_update()
    )


def _are_friends(conn: Connection, schema: Schema, a: int, b: int) -> bool:
    f = schema.user_friends
    row = conn.execute(
        select(f.c.id).where(f.c.user_id == a, f.c.friend_id == b).limit(1)
    ).first()
    return row is not None


def _has_request(conn: Connection, schema: Schema, sender: int, to: int) -> bool:
    r = schema.friend_requests
    row = conn.execute(
        select(r.c.id).where(r.c.from_user_id == sender, r.c.to_user_id == to).limit(1)
    ).first()
    return row is not None


def _has_block(conn: Connection, schema: Schema, blocker: int, blocked: int) -> bool:
    b = schema.user_blocks
    row = conn.execute(
        select(b.c.id).where(b.c.user_id == blocker, b.c.blocked_id == blocked).limit(1)
    ).first()
    return row is not None


def _delete_request(conn: Connection, schema: Schema, sender: int, to: int) -> bool:
    r = schema.friend_requests
    result = conn.execute(delete(r).where(r.c.from_user_id == sender, r.c.to_user_id == to))
    return bool(result.rowcount)


def _befriend(conn: Connection, schema: Schema, a: int, b: int, t: int) -> None:
    conn.execute(
        insert(schema.user_friends),
        [
            {"user_id": a, "friend_id": b, "created_at": t},
            {"user_id": b, "friend_id": a, "created_at": t},
        ],
    )


def _unfriend(conn: Connection, schema: Schema, a: int, b: int) -> bool:
    f = schema.user_friends
    result = conn.execute(
        delete(f).where(
            or_(
                and_(f.c.user_id == a, f.c.friend_id == b),
                and_(f.c.user_id == b, f.c.friend_id == a),
            )
        )
    )
    return bool(result.rowcount)


def request_friend(engine: Engine, schema: Schema, sender: int, to: int, t: int) -> RequestOutcome:
    """``sender`` asks ``to`` to be friends; accepted at once if ``to`` had asked too."""
    with engine.begin() as conn:
        _lock_pair(conn, schema, sender, to)
        if _has_block(conn, schema, sender, to):
            return "blocked"
        if _has_block(conn, schema, to, sender):
            return "blocked_by"
        if _are_friends(conn, schema, sender, to):
            return "friends"
        if _has_request(conn, schema, sender, to):
            return "pending"
        if _delete_request(conn, schema, to, sender):
            _befriend(conn, schema, sender, to, t)
            return "accepted"
        conn.execute(
            insert(schema.friend_requests).values(from_user_id=sender, to_user_id=to, created_at=t)
        )
        return "requested"


def accept_request(engine: Engine, schema: Schema, me: int, sender: int, t: int) -> AnswerOutcome:
    """``me`` accepts the request ``sender`` sent them: both become friends."""
    with engine.begin() as conn:
        _lock_pair(conn, schema, me, sender)
        if _delete_request(conn, schema, sender, me):
            if not _are_friends(conn, schema, me, sender):
                _befriend(conn, schema, me, sender, t)
            return "done"
        return "wrong_side" if _has_request(conn, schema, me, sender) else "none"


def decline_request(engine: Engine, schema: Schema, me: int, sender: int) -> AnswerOutcome:
    """``me`` declines the request ``sender`` sent them (``sender`` may ask again)."""
    with engine.begin() as conn:
        if _delete_request(conn, schema, sender, me):
            return "done"
        return "wrong_side" if _has_request(conn, schema, me, sender) else "none"


def cancel_request(engine: Engine, schema: Schema, me: int, to: int) -> AnswerOutcome:
    """``me`` withdraws the request they sent to ``to``."""
    with engine.begin() as conn:
        if _delete_request(conn, schema, me, to):
            return "done"
        return "wrong_side" if _has_request(conn, schema, to, me) else "none"


def remove_friend(engine: Engine, schema: Schema, me: int, other: int) -> bool:
    """End a friendship on both sides; False if there was none."""
    with engine.begin() as conn:
        return _unfriend(conn, schema, me, other)


def block(engine: Engine, schema: Schema, me: int, other: int, t: int) -> BlockOutcome:
    """``me`` blocks ``other``: the friendship and pending requests between them end."""
    with engine.begin() as conn:
        _lock_pair(conn, schema, me, other)
        if _has_block(conn, schema, me, other):
            return BlockOutcome(blocked=False)
        outcome = BlockOutcome(
            blocked=True,
            was_friend=_unfriend(conn, schema, me, other),
            had_incoming=_delete_request(conn, schema, other, me),
            had_outgoing=_delete_request(conn, schema, me, other),
        )
        conn.execute(insert(schema.user_blocks).values(user_id=me, blocked_id=other, created_at=t))
        return outcome


def unblock(engine: Engine, schema: Schema, me: int, other: int) -> bool:
    """Lift ``me``'s block of ``other``; False if there was none. Nothing else comes back:
    the friendship it ended has to be asked for again."""
    b = schema.user_blocks
    with engine.begin() as conn:
        result = conn.execute(delete(b).where(b.c.user_id == me, b.c.blocked_id == other))
        return bool(result.rowcount)


def pending_requests(
    engine: Engine, schema: Schema, me: int
) -> tuple[list[PendingRequest], list[PendingRequest]]:
    """(incoming, outgoing) pending requests of ``me``, oldest first."""
    u, r = schema.users, schema.friend_requests
    columns = [u.c.id, u.c.uuid, u.c.username, u.c.nickname, u.c.email, u.c.avatar, r.c.created_at]
    with engine.connect() as conn:
        incoming = conn.execute(
            select(*columns).join(r, r.c.from_user_id == u.c.id)
            .where(r.c.to_user_id == me).order_by(r.c.id)
        ).all()
        outgoing = conn.execute(
            select(*columns).join(r, r.c.to_user_id == u.c.id)
            .where(r.c.from_user_id == me).order_by(r.c.id)
        ).all()
    return (
        [PendingRequest(_user(row), int(row.created_at)) for row in incoming],
        [PendingRequest(_user(row), int(row.created_at)) for row in outgoing],
    )


def blocked_users(engine: Engine, schema: Schema, me: int) -> list[User]:
    """The users ``me`` blocked, by username."""
    u, b = schema.users, schema.user_blocks
    with engine.connect() as conn:
        rows = conn.execute(
            select(u.c.id, u.c.uuid, u.c.username, u.c.nickname, u.c.email, u.c.avatar)
            .join(b, b.c.blocked_id == u.c.id)
            .where(b.c.user_id == me)
            .order_by(u.c.username)
        ).all()
    return [_user(row) for row in rows]


def block_ties(
    engine: Engine, schema: Schema, user_uuid: str
) -> tuple[frozenset[str], frozenset[str]]:
    """(whom ``user_uuid`` blocked, who blocked ``user_uuid``), as uuids: between
    them and these users no 1:1 message, call or friend request may pass."""
    u, b = schema.users, schema.user_blocks
    # the other side is an alias: a subquery on the same table would correlate
    me = select(u.c.id).where(u.c.uuid == user_uuid).scalar_subquery()
    other = u.alias("other")
    with engine.connect() as conn:
        blocked = conn.execute(
            select(other.c.uuid).join(b, b.c.blocked_id == other.c.id).where(b.c.user_id == me)
        ).scalars().all()
        blockers = conn.execute(
            select(other.c.uuid).join(b, b.c.user_id == other.c.id).where(b.c.blocked_id == me)
        ).scalars().all()
    return frozenset(blocked), frozenset(blockers)


#: How the caller stands with another user, for search results and lists.
Relation = Literal["friend", "incoming", "outgoing", "blocked"]


def relations(engine: Engine, schema: Schema, me: int) -> dict[int, Relation]:
    """Every user ``me`` has a tie with (user id -> the tie). "blocked" means the
    caller blocked them; being blocked by someone is never shown."""
    f, r, b = schema.user_friends, schema.friend_requests, schema.user_blocks
    out: dict[int, Relation] = {}
    with engine.connect() as conn:
        for (uid,) in conn.execute(select(f.c.friend_id).where(f.c.user_id == me)):
            out[int(uid)] = "friend"
        for (uid,) in conn.execute(select(r.c.from_user_id).where(r.c.to_user_id == me)):
            out[int(uid)] = "incoming"
        for (uid,) in conn.execute(select(r.c.to_user_id).where(r.c.from_user_id == me)):
            out[int(uid)] = "outgoing"
        for (uid,) in conn.execute(select(b.c.blocked_id).where(b.c.user_id == me)):
            out[int(uid)] = "blocked"
    return out
