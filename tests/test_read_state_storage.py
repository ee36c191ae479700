"""Read state in the Store, on both backends: positions, unread counts, mutes, the
receipts setting, the conversation list and its pages, the migration, the indexes."""

from __future__ import annotations

import uuid as uuid_lib
from typing import Any

import trio
from sqlalchemy import Select, delete, insert, inspect, text

from chat_trio.config import Config
from chat_trio.model import Group, MessageType, NewMessage, User
from chat_trio.storage import SqlStore, open_storage
from chat_trio.storage import reads as reads_mod
from chat_trio.storage import schema as schema_mod
from chat_trio.storage.schema import SCHEMA_VERSION
from tests.conftest import new_user

USER, GROUP = int(MessageType.USER), int(MessageType.GROUP)


async def send(store: SqlStore, sender: User, to: User | Group, content: str, at: int) -> int:
    kind = MessageType.GROUP if isinstance(to, Group) else MessageType.USER
    new = NewMessage(
        sender=sender, to_uuid=to.uuid, to_id=to.id, message_type=kind, content_type=1,
        content=content, url="", client_id="", created_at_ms=at,
    )
    [(stored, _)] = await store.store_messages([new])
    return stored.id


async def test_a_position_moves_up_to_the_newest_message_at_or_below_and_never_down(
    store: SqlStore,
) -> None:
    a, b, c = await new_user(store), await new_user(store), await new_user(store)
    m1 = await send(store, b, a, "1", 10)
    await send(store, c, a, "elsewhere", 11)  # another conversation: not counted
    m2 = await send(store, a, b, "mine", 12)
    m3 = await send(store, b, a, "3", 13)
    assert await store.mark_read(a, USER, b.id, m1 - 1) is None  # no message at or below
    move = await store.mark_read(a, USER, b.id, m1)
    assert move is not None and (move.read_id, move.moved, move.unread) == (m1, True, 1)
    # an id between messages, or past the last, lands on the newest message at or below it
    move = await store.mark_read(a, USER, b.id, m3 + 1000)
    assert move is not None and (move.read_id, move.moved, move.unread) == (m3, True, 0)
    back = await store.mark_read(a, USER, b.id, m2)
    assert back is not None and (back.read_id, back.moved) == (m3, False)  # never backwards
    [listed] = [x for x in await store.conversations(a, limit=10) if x.user == b]
    assert (listed.read_id, listed.unread) == (m3, 0)


async def test_unread_counts_messages_from_others_after_the_position(store: SqlStore) -> None:
    a, b, c = await new_user(store), await new_user(store), await new_user(store)
    group = await store.create_group(a, uuid=str(uuid_lib.uuid4()), name="g", notice="")
    for member in (b, c):
        await store.join_group(group, member)
    first = await send(store, b, group, "b1", 1)
    await send(store, a, group, "mine", 2)  # a's own: never unread for a
    await send(store, c, group, "c1", 3)
    await send(store, b, a, "1:1", 4)  # not the group's
    by_key = {(x.message_type, x.uuid): x for x in await store.conversations(a, limit=10)}
    assert by_key[(GROUP, group.uuid)].unread == 2
    assert by_key[(USER, b.uuid)].unread == 1
    move = await store.mark_read(a, GROUP, group.id, first)
    assert move is not None and move.unread == 1
    assert move.peer_receipts is False  # a group has no single peer


async def test_mute_is_stored_per_user_and_conversation(store: SqlStore) -> None:
    a, b = await new_user(store), await new_user(store)
    m = await send(store, b, a, "hi", 1)
    assert await store.set_muted(a, USER, b.id, False) is False  # never muted: no change
    assert await store.set_muted(a, USER, b.id, True) is True
    assert await store.set_muted(a, USER, b.id, True) is False  # no change
    await store.mark_read(a, USER, b.id, m)  # a read keeps the mute
    [mine] = await store.conversations(a, limit=10)
    [theirs] = await store.conversations(b, limit=10)
    assert (mine.muted, mine.read_id, theirs.muted) == (True, m, False)
    assert await store.set_muted(a, USER, b.id, False) is True
    [mine] = await store.conversations(a, limit=10)
    assert mine.muted is False


async def test_receipts_setting_hides_positions_both_ways(store: SqlStore) -> None:
    a, b = await new_user(store), await new_user(store)
    m = await send(store, a, b, "hi", 1)
    assert await store.read_receipts(a.id) is True  # the default
    move = await store.mark_read(b, USER, a.id, m)
    assert move is not None and (move.receipts, move.peer_receipts) == (True, True)
    [seen_by_a] = await store.conversations(a, limit=10)
    assert seen_by_a.peer_read_id == m
    assert [(u.id, r) for u, r in await store.read_positions(USER, a.id, [b.id])] == [(b.id, m)]
    assert await store.read_positions(USER, a.id, [b.id], at_least=m + 1) == []
    await store.set_read_receipts(b.id, False)
    assert await store.read_receipts(b.id) is False
    [seen_by_a] = await store.conversations(a, limit=10)
    assert seen_by_a.peer_read_id is None  # b shares nothing
    assert await store.read_positions(USER, a.id, [b.id]) == []
    [seen_by_b] = await store.conversations(b, limit=10)
    assert seen_by_b.peer_read_id is None  # and sees nothing
    await store.set_read_receipts(b.id, True)
    [seen_by_a] = await store.conversations(a, limit=10)
    assert seen_by_a.peer_read_id == m


async def test_the_list_holds_every_conversation_newest_first_in_pages(store: SqlStore) -> None:
    me = await new_user(store)
    peers = [await new_user(store) for _ in range(5)]
    group = await store.create_group(peers[0], uuid=str(uuid_lib.uuid4()), name="gg", notice="")
    await store.join_group(group, me)
    quiet_friend = await new_user(store)
    await store.add_friend(me.id, quiet_friend.id)  # no messages: listed all the same
    stranger = await new_user(store)
    await send(store, stranger, peers[1], "not mine", 50)  # not a conversation of mine
    await send(store, me, peers[0], "to p0", 100)  # only I wrote: still a conversation
    await send(store, peers[1], me, "from p1", 200)
    await send(store, peers[2], me, "from p2", 300)
    await send(store, peers[3], group, "in the group", 400)
    last = await send(store, me, peers[1], "reply to p1", 500)
    everything = await store.conversations(me, limit=100)
    # the friendship began now, after every (back-dated) message: it is the newest activity
    assert [x.uuid for x in everything] == [
        quiet_friend.uuid, peers[1].uuid, group.uuid, peers[2].uuid, peers[0].uuid,
    ]
    assert stranger.uuid not in {x.uuid for x in everything}
    assert everything[0].last_message is None and everything[0].unread == 0
    assert everything[1].last_message is not None and everything[1].last_message.id == last
    assert (everything[1].last_message.content, everything[1].activity_ms) == ("reply to p1", 500)
    assert (everything[1].unread, everything[2].unread, everything[4].unread) == (1, 1, 0)
    # pages of two, each starting below the last item of the one before
    paged: list[str] = []
    before: tuple[int, int, str] | None = None
    while True:
        page = await store.conversations(me, limit=2, before=before)
        paged += [x.uuid for x in page]
        if len(page) < 2:
            break
        tail = page[-1]
        before = (tail.activity_ms, tail.message_type, tail.uuid)
    assert paged == [x.uuid for x in everything]


async def test_the_migration_adds_the_read_state_to_an_older_database(
    store_config: Config,
) -> None:
    async with open_storage(store_config) as store:
        a, b = await new_user(store), await new_user(store)
        m = await send(store, b, a, "before the upgrade", 1)
        schema = store.schema
        inbox = next(i for i in schema.messages.indexes if str(i.name).endswith("inbox"))
        step = next(n for n, f in schema_mod.MIGRATIONS.items() if f is schema_mod._add_read_state)

        def downgrade() -> None:
            with store.engine.begin() as conn:
                schema.conversation_states.drop(conn)
                schema.user_settings.drop(conn)
                inbox.drop(conn)
                versions = schema.schema_version
                conn.execute(delete(versions).where(versions.c.version >= step))
                # the version before the step (a new database records only its own)
                conn.execute(insert(versions).values(version=step - 1, applied_at=0))

        await trio.to_thread.run_sync(downgrade)
    async with open_storage(store_config) as store:
        assert await store.schema_version() == SCHEMA_VERSION

        def indexes() -> set[str]:
            with store.engine.connect() as conn:
                return {str(i["name"]) for i in inspect(conn).get_indexes(schema.messages.name)}

        assert inbox.name in await trio.to_thread.run_sync(indexes)
        move = await store.mark_read(a, USER, b.id, m)
        assert move is not None and move.read_id == m


def _plan(store: SqlStore, query: Select[Any]) -> str:
    """How the database would run ``query``: SQLite's EXPLAIN QUERY PLAN details, or
    MariaDB's EXPLAIN key and Extra columns."""
    dialect = store.engine.dialect
    sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    with store.engine.connect() as conn:
        if dialect.name == "sqlite":
            steps = conn.execute(text("EXPLAIN QUERY PLAN " + sql)).all()
            return " | ".join(str(r[-1]) for r in steps)
        rows = conn.execute(text("EXPLAIN " + sql)).mappings().all()
        return " | ".join(f"{r['key']} {r['Extra']}" for r in rows)


async def test_unread_counts_are_read_from_an_index_alone(store: SqlStore) -> None:
    a, b = await new_user(store), await new_user(store)
    group = await store.create_group(a, uuid=str(uuid_lib.uuid4()), name="ix", notice="")
    for i in range(30):
        await send(store, b, a, f"m{i}", i)
    queries = reads_mod.unread_queries(store.schema, a.id, (USER, b.id), 5)
    queries += reads_mod.unread_queries(store.schema, a.id, (GROUP, group.id), 5)
    for query in queries:
        plan = await trio.to_thread.run_sync(_plan, store, query)
        if store.engine.dialect.name == "sqlite":
            assert "USING COVERING INDEX ix_messages_" in plan, plan
        else:
            assert "ix_messages_" in plan and "Using index" in plan, plan


async def test_concurrent_marks_of_one_conversation_end_at_the_highest(store: SqlStore) -> None:
    """Many devices marking at once, the first time (no row yet) and after: the
    position ends at the highest id asked, and no mark fails."""
    a, b = await new_user(store), await new_user(store)
    ids = [await send(store, b, a, f"m{i}", i) for i in range(20)]
    moved: list[bool] = []

    async def mark(message_id: int) -> None:
        move = await store.mark_read(a, USER, b.id, message_id)
        assert move is not None
        moved.append(move.moved)

    async with trio.open_nursery() as nursery:
        for message_id in reversed(ids):
            nursery.start_soon(mark, message_id)
    [listed] = await store.conversations(a, limit=10)
    assert (listed.read_id, listed.unread) == (ids[-1], 0)
    assert len(moved) == 20 and any(moved)


async def test_a_new_member_starts_with_the_history_read(store: SqlStore) -> None:
    owner, early, late = await new_user(store), await new_user(store), await new_user(store)
    group = await store.create_group(owner, uuid=str(uuid_lib.uuid4()), name="h", notice="")
    await store.join_group(group, early)  # no messages yet: nothing to mark
    before = await send(store, owner, group, "before", 1)
    await store.join_group(group, late)
    await send(store, owner, group, "after", 2)
    by_user = {}
    for member in (early, late):
        [listed] = await store.conversations(member, limit=10)
        by_user[member.id] = (listed.read_id, listed.unread)
    assert by_user == {early.id: (0, 2), late.id: (before, 1)}
