"""Read state in SQL: read positions, mutes, the read-receipts setting, unread counts.

Plain functions over an open connection, called by :class:`~chat_trio.storage.sql.SqlStore`
inside its worker threads (one transaction each), so that the conversation-state
queries sit together, away from the message path.

A conversation is named as messages name it: ``(message_type, peer_id)``, a user
id for 1:1 (type 1) or a group id (type 2). Every count and "last message" is
read from an index alone (SQLite and InnoDB both):

- ``ix_messages_inbox`` (message_type, to_user_id, from_user_id, id): a 1:1
  conversation's messages from one side after an id, who wrote to a user, and a
  group's messages from one member after an id;
- ``ix_messages_to`` (message_type, to_user_id, id): a group's messages after an id;
- ``ix_messages_conversation`` (from_user_id, to_user_id, id): whom a user wrote to.

So an unread count costs the unread messages themselves (a range of one index),
never the conversation's history.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, func, insert, select, update

from chat_trio.model import MessageType, ReadMove
from chat_trio.storage.schema import Schema

#: (message_type, peer_id): one conversation of a user.
Key = tuple[int, int]


@dataclass(frozen=True, slots=True)
class StateRow:
    read_id: int = 0
    muted: bool = False


@dataclass(frozen=True, slots=True)
class ListedConversation:
    """A conversation found for a user's list, before its page is filled in."""

    key: Key
    #: The newest message's id, 0 without messages.
    last_id: int
    #: The newest message's time, or when the friendship or membership began.
    activity_ms: int
    state: StateRow


def _max(conn: Connection, query: Select[Any]) -> int:
    """A scalar query's answer (a MAX or a COUNT), 0 for NULL."""
    value = conn.execute(query).scalar()
    return int(value or 0)


def newest_at_or_before(
    conn: Connection, schema: Schema, user_id: int, key: Key, message_id: int
) -> int:
    """The id of the newest message of the conversation at or below ``message_id``,
    0 if there is none."""
    m = schema.messages
    kind, peer = key
    if kind == MessageType.GROUP:
        return _max(conn, select(func.max(m.c.id)).where(
            m.c.message_type == kind, m.c.to_user_id == peer, m.c.id <= message_id
        ))
    sides = ((user_id, peer), (peer, user_id))
    return max(
        _max(conn, select(func.max(m.c.id)).where(
            m.c.message_type == kind, m.c.to_user_id == to, m.c.from_user_id == sender,
            m.c.id <= message_id,
        ))
        for to, sender in sides
    )


def unread_queries(schema: Schema, user_id: int, key: Key, read_id: int) -> list[Select[Any]]:
    """The counts whose sum is the unread count (a group's: everyone's messages
    after ``read_id`` minus the user's own, each a range of one index)."""
    m = schema.messages
    kind, peer = key
    if kind == MessageType.GROUP:
        everyone = select(func.count()).where(
            m.c.message_type == kind, m.c.to_user_id == peer, m.c.id > read_id
        )
        mine = select(func.count()).where(
            m.c.message_type == kind, m.c.to_user_id == peer, m.c.from_user_id == user_id,
            m.c.id > read_id,
        )
        return [everyone, mine]
    return [select(func.count()).where(
        m.c.message_type == kind, m.c.to_user_id == user_id, m.c.from_user_id == peer,
        m.c.id > read_id,
    )]


def unread_after(conn: Connection, schema: Schema, user_id: int, key: Key, read_id: int) -> int:
    """Messages from others in the conversation with an id above ``read_id``."""
    if key == (MessageType.USER, user_id):
        return 0  # notes to oneself: nothing from others
    counts = [_max(conn, q) for q in unread_queries(schema, user_id, key, read_id)]
    return counts[0] - sum(counts[1:])


def _where_key(schema: Schema, user_id: int, key: Key) -> ColumnElement[bool]:
    s = schema.conversation_states
    return and_(s.c.user_id == user_id, s.c.message_type == key[0], s.c.peer_id == key[1])


def state(conn: Connection, schema: Schema, user_id: int, key: Key) -> StateRow | None:
    s = schema.conversation_states
    row = conn.execute(
        select(s.c.read_id, s.c.muted).where(_where_key(schema, user_id, key))
    ).first()
    return None if row is None else StateRow(int(row.read_id), bool(row.muted))


def _change_state(
    conn: Connection, schema: Schema, user_id: int, key: Key, now: int, *,
    unless: ColumnElement[bool], values: dict[str, int],
) -> bool:
    """Write ``values`` into the user's row for the conversation, unless ``unless``
    holds for it already; True when something was written.

    No lock is taken: one conditional UPDATE changes an existing row atomically
    (so two devices at once cannot move a position backwards), and a missing row
    is INSERTed; another node inserting it meanwhile makes that an IntegrityError,
    and the caller runs the whole step again, which then finds the row.
    (``SELECT ... FOR UPDATE`` of a missing row would take a gap lock in InnoDB,
    and two of those then deadlock on the INSERT.)
    """
    s = schema.conversation_states
    where = _where_key(schema, user_id, key)
    changed = conn.execute(
        update(s).where(where, ~unless).values(updated_at=now, **values)
    ).rowcount
    if changed:
        return True
    if conn.execute(select(s.c.id).where(where)).first() is not None:
        return False  # there, and already as asked
    conn.execute(insert(s).values(
        user_id=user_id, message_type=key[0], peer_id=key[1], updated_at=now, **values
    ))
    return True


def receipts(conn: Connection, schema: Schema, user_ids: Iterable[int]) -> dict[int, bool]:
    """Whether each user shares read receipts (True without a settings row)."""
    wanted = set(user_ids)
    us = schema.user_settings
    found = {
        int(r.user_id): bool(r.read_receipts)
        for r in conn.execute(
            select(us.c.user_id, us.c.read_receipts).where(us.c.user_id.in_(wanted))
        )
    }
    return {u: found.get(u, True) for u in wanted}


def set_receipts(conn: Connection, schema: Schema, user_id: int, on: bool, now: int) -> None:
    """Store the setting (an INSERT racing another node's: see :func:`_change_state`)."""
    us = schema.user_settings
    where = us.c.user_id == user_id
    if conn.execute(update(us).where(where).values(read_receipts=int(on), updated_at=now)).rowcount:
        return
    if conn.execute(select(us.c.user_id).where(where)).first() is None:
        conn.execute(insert(us).values(user_id=user_id, read_receipts=int(on), updated_at=now))


def mark_read(
    conn: Connection, schema: Schema, user_id: int, key: Key, message_id: int, now: int
) -> ReadMove | None:
    """Move the user's position in the conversation up to the newest message at or
    below ``message_id`` (never down). None when the conversation has no such message."""
    target = newest_at_or_before(conn, schema, user_id, key, message_id)
    if target == 0:
        return None
    s = schema.conversation_states
    moved = _change_state(
        conn, schema, user_id, key, now, unless=s.c.read_id >= target,
        values={"read_id": target},
    )
    found = state(conn, schema, user_id, key)
    position = found.read_id if found is not None else target
    peer = key[1]
    flags = receipts(conn, schema, (user_id, peer) if key[0] == MessageType.USER else (user_id,))
    return ReadMove(
        read_id=position,
        moved=moved,
        unread=unread_after(conn, schema, user_id, key, position),
        receipts=flags[user_id],
        peer_receipts=key[0] == MessageType.USER and peer != user_id and flags[peer],
    )


def start_at_newest(
    conn: Connection, schema: Schema, user_id: int, group_id: int, now: int
) -> None:
    """A new member's position in a group: its newest message (none: nothing to store)."""
    key = (int(MessageType.GROUP), group_id)
    m = schema.messages
    newest = _max(conn, select(func.max(m.c.id)).where(
        m.c.message_type == key[0], m.c.to_user_id == group_id
    ))
    if newest:
        s = schema.conversation_states
        _change_state(
            conn, schema, user_id, key, now, unless=s.c.read_id >= newest,
            values={"read_id": newest},
        )


def set_muted(
    conn: Connection, schema: Schema, user_id: int, key: Key, muted: bool, now: int
) -> bool:
    """Mute or unmute; True when that changed anything."""
    s = schema.conversation_states
    if not muted and state(conn, schema, user_id, key) is None:
        return False  # never muted: nothing to store
    return _change_state(
        conn, schema, user_id, key, now, unless=s.c.muted == int(muted),
        values={"muted": int(muted)},
    )


def listed(conn: Connection, schema: Schema, user_id: int) -> list[ListedConversation]:
    """Every conversation of the user, unordered: each group they are in, each user
    they exchanged a 1:1 message with, each friend, and each 1:1 they keep a state
    for (a mute)."""
    m, g, gm = schema.messages, schema.groups, schema.group_members
    f, s = schema.user_friends, schema.conversation_states
    user_kind, group_kind = int(MessageType.USER), int(MessageType.GROUP)
    last: dict[Key, int] = {}
    since: dict[Key, int] = {}
    group_last = (
        select(func.max(m.c.id))
        .where(m.c.message_type == group_kind, m.c.to_user_id == g.c.id)
        .scalar_subquery()
    )
    for row in conn.execute(
        select(g.c.id, gm.c.created_at, group_last.label("last_id"))
        .join(gm, gm.c.group_id == g.c.id)
        .where(gm.c.user_id == user_id)
    ):
        key = (group_kind, int(row.id))
        since[key] = int(row.created_at)
        last[key] = int(row.last_id or 0)
    received = conn.execute(
        select(m.c.from_user_id, func.max(m.c.id).label("last_id"))
        .where(m.c.message_type == user_kind, m.c.to_user_id == user_id)
        .group_by(m.c.from_user_id)
    )
    for sender in received:
        last[(user_kind, int(sender.from_user_id))] = int(sender.last_id)
    # Whom the user wrote to: the candidates come from ix_messages_conversation
    # (groups among them too), the exact newest 1:1 id of each from ix_messages_inbox.
    u = schema.users
    sent_last = (
        select(func.max(m.c.id))
        .where(m.c.message_type == user_kind, m.c.to_user_id == u.c.id,
               m.c.from_user_id == user_id)
        .scalar_subquery()
    )
    wrote_to = select(m.c.to_user_id).where(m.c.from_user_id == user_id).distinct()
    for peer in conn.execute(
        select(u.c.id, sent_last.label("last_id")).where(u.c.id.in_(wrote_to))
    ):
        if peer.last_id is not None:
            key = (user_kind, int(peer.id))
            last[key] = max(last.get(key, 0), int(peer.last_id))
    friends = select(f.c.friend_id, f.c.created_at).where(f.c.user_id == user_id)
    for friend in conn.execute(friends):
        key = (user_kind, int(friend.friend_id))
        since[key] = int(friend.created_at)
        last.setdefault(key, 0)
    states: dict[Key, StateRow] = {}
    for kept in conn.execute(
        select(s.c.message_type, s.c.peer_id, s.c.read_id, s.c.muted).where(s.c.user_id == user_id)
    ):
        key = (int(kept.message_type), int(kept.peer_id))
        states[key] = StateRow(int(kept.read_id), bool(kept.muted))
        if key[0] == user_kind:
            last.setdefault(key, 0)  # a muted 1:1 without messages yet
    times = {
        int(r.id): int(r.created_at)
        for r in conn.execute(
            select(m.c.id, m.c.created_at).where(m.c.id.in_([i for i in last.values() if i]))
        )
    }
    return [
        ListedConversation(
            key, last_id, times.get(last_id, 0) if last_id else since.get(key, 0),
            states.get(key, StateRow()),
        )
        for key, last_id in last.items()
    ]


def peer_positions(
    conn: Connection, schema: Schema, user_id: int, peers: Iterable[int]
) -> dict[int, int | None]:
    """For each 1:1 peer: their read position in the conversation with ``user_id``,
    0 if they have none, None when they do not share read receipts."""
    wanted = set(peers)
    if not wanted:
        return {}
    s = schema.conversation_states
    rows = conn.execute(
        select(s.c.user_id, s.c.read_id).where(
            and_(s.c.message_type == int(MessageType.USER), s.c.peer_id == user_id,
                 s.c.user_id.in_(wanted))
        )
    )
    positions = {int(r.user_id): int(r.read_id) for r in rows}
    shares = receipts(conn, schema, wanted)
    return {p: positions.get(p, 0) if shares[p] else None for p in wanted}


def positions(
    conn: Connection, schema: Schema, key: Key, candidates: Iterable[int], *, at_least: int = 1
) -> dict[int, int]:
    """Of ``candidates`` (user ids), those whose read position in the conversation
    ``key`` (as the candidate names it) is at least ``at_least`` and who share
    receipts, with their positions."""
    wanted = set(candidates)
    if not wanted:
        return {}
    s = schema.conversation_states
    rows = conn.execute(
        select(s.c.user_id, s.c.read_id).where(
            s.c.message_type == key[0], s.c.peer_id == key[1], s.c.read_id >= at_least,
            s.c.user_id.in_(wanted),
        )
    )
    found = {int(r.user_id): int(r.read_id) for r in rows}
    shares = receipts(conn, schema, found)
    return {u: read_id for u, read_id in found.items() if shares[u]}
