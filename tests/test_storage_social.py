"""Friend requests, blocks and search in the Store, on SQLite and the real MariaDB.

The same fixtures as tests/test_storage.py: each MariaDB test has tables of its own.
"""

from __future__ import annotations

import trio

from chat_trio.config import Config
from chat_trio.storage import SqlStore, make_store, open_storage
from chat_trio.storage.schema import SCHEMA_VERSION
from chat_trio.storage.search import like_escaped
from tests.conftest import new_user


async def test_a_request_is_pending_until_accepted(store: SqlStore) -> None:
    a, b = await new_user(store), await new_user(store)
    assert await store.request_friend(a.id, b.id) == "requested"
    incoming, outgoing = await store.pending_requests(b.id)
    assert [p.user.uuid for p in incoming] == [a.uuid] and outgoing == []
    assert incoming[0].created_at_ms > 0
    assert [p.user.uuid for p in (await store.pending_requests(a.id))[1]] == [b.uuid]
    assert await store.friends(a.id) == []
    assert await store.request_friend(a.id, b.id) == "pending"
    # the sender cannot accept their own request; the receiver cannot cancel it
    assert await store.accept_request(a.id, b.id) == "wrong_side"
    assert await store.cancel_request(b.id, a.id) == "wrong_side"
    assert await store.accept_request(b.id, a.id) == "done"
    assert [f.uuid for f in await store.friends(a.id)] == [b.uuid]
    assert [f.uuid for f in await store.friends(b.id)] == [a.uuid]
    assert await store.pending_requests(a.id) == ([], [])
    assert await store.accept_request(b.id, a.id) == "none"
    assert await store.request_friend(b.id, a.id) == "friends"


async def test_asking_back_accepts(store: SqlStore) -> None:
    a, b = await new_user(store), await new_user(store)
    assert await store.request_friend(a.id, b.id) == "requested"
    assert await store.request_friend(b.id, a.id) == "accepted"
    assert [f.uuid for f in await store.friends(a.id)] == [b.uuid]
    assert await store.pending_requests(b.id) == ([], [])


async def test_crossed_requests_at_once_end_as_one_friendship(store: SqlStore) -> None:
    """Both users ask at the same moment (two worker threads on MariaDB): the
    row locks order them, so the second accepts the first."""
    for _ in range(5):
        a, b = await new_user(store), await new_user(store)
        outcomes: list[str] = []

        async def ask(sender: int, to: int, into: list[str] = outcomes) -> None:
            into.append(await store.request_friend(sender, to))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ask, a.id, b.id)
            nursery.start_soon(ask, b.id, a.id)
        assert sorted(outcomes) == ["accepted", "requested"]
        assert await store.pending_requests(a.id) == ([], [])
        assert [f.uuid for f in await store.friends(b.id)] == [a.uuid]


async def test_decline_and_cancel_delete_the_request(store: SqlStore) -> None:
    a, b = await new_user(store), await new_user(store)
    await store.request_friend(a.id, b.id)
    assert await store.decline_request(a.id, b.id) == "wrong_side"
    assert await store.decline_request(b.id, a.id) == "done"
    assert await store.decline_request(b.id, a.id) == "none"
    assert await store.pending_requests(b.id) == ([], [])
    # a declined sender may ask again, and withdraw it
    assert await store.request_friend(a.id, b.id) == "requested"
    assert await store.cancel_request(a.id, b.id) == "done"
    assert await store.cancel_request(a.id, b.id) == "none"
    assert await store.friends(a.id) == []


async def test_remove_friend_ends_both_sides(store: SqlStore) -> None:
    a, b = await new_user(store), await new_user(store)
    await store.request_friend(a.id, b.id)
    await store.accept_request(b.id, a.id)
    assert await store.remove_friend(b.id, a.id) is True
    assert await store.friends(a.id) == [] and await store.friends(b.id) == []
    assert await store.remove_friend(b.id, a.id) is False


async def test_block_ends_ties_and_stops_requests(store: SqlStore) -> None:
    a, b, c = await new_user(store), await new_user(store), await new_user(store)
    await store.request_friend(a.id, b.id)
    await store.accept_request(b.id, a.id)
    await store.request_friend(c.id, a.id)
    first = await store.block(a.id, b.id)
    assert (first.blocked, first.was_friend, first.had_incoming, first.had_outgoing) == (
        True, True, False, False,
    )
    assert (await store.block(a.id, b.id)).blocked is False
    assert await store.friends(a.id) == [] and await store.friends(b.id) == []
    assert await store.request_friend(b.id, a.id) == "blocked_by"
    assert await store.request_friend(a.id, b.id) == "blocked"
    incoming_block = await store.block(a.id, c.id)
    assert incoming_block.had_incoming and not incoming_block.had_outgoing
    assert await store.pending_requests(a.id) == ([], [])
    assert [u.uuid for u in await store.blocked_users(a.id)] == sorted(
        [b.uuid, c.uuid], key=lambda uuid: next(u.username for u in (b, c) if u.uuid == uuid)
    )
    assert await store.block_ties(a.uuid) == (frozenset({b.uuid, c.uuid}), frozenset())
    assert await store.block_ties(b.uuid) == (frozenset(), frozenset({a.uuid}))
    assert await store.relations(a.id) == {b.id: "blocked", c.id: "blocked"}
    assert await store.relations(b.id) == {}  # being blocked is not shown
    assert await store.unblock(a.id, b.id) is True
    assert await store.unblock(a.id, b.id) is False
    assert await store.block_ties(b.uuid) == (frozenset(), frozenset())
    assert await store.friends(a.id) == []  # unblocking gives nothing back
    assert await store.request_friend(b.id, a.id) == "requested"
    assert await store.relations(a.id) == {b.id: "incoming", c.id: "blocked"}


async def test_search_ranks_exact_then_prefix_then_substring(store: SqlStore) -> None:
    names = ["xmariox", "maria", "mar", "mariana", "omar", "zed"]
    users = {n: await new_user(store, n) for n in names}
    # a nickname matches too
    other = await store.create_user(
        uuid="00000000-0000-0000-0000-00000000aaaa", username="q1", password_hash="x",
        nickname="Marvin", email="",
    )
    found = [u.username for u in await store.search_users("MAR", limit=10)]
    assert found[0] == "mar"  # exact, whatever the case
    assert set(found[1:4]) == {"maria", "mariana", "q1"}  # prefixes (q1 by nickname)
    assert found[1:4].index("maria") < found[1:4].index("mariana")  # shorter first
    assert found[4:] == ["omar", "xmariox"]  # substrings, shorter first
    assert "zed" not in found
    assert [u.username for u in await store.search_users("mar", limit=2)] == ["mar", "q1"]
    assert other.uuid in {u.uuid for u in await store.search_users("rvi", limit=10)}
    assert users["zed"].uuid == (await store.search_users("zed", limit=1))[0].uuid


async def test_search_escapes_like_wildcards(store: SqlStore) -> None:
    for name in ["a%b", "a_b", "axb", "a/b", "aab"]:
        await new_user(store, name)
    assert [u.username for u in await store.search_users("a%", limit=10)] == ["a%b"]
    assert [u.username for u in await store.search_users("_", limit=10)] == ["a_b"]
    assert [u.username for u in await store.search_users("a/", limit=10)] == ["a/b"]
    assert [u.username for u in await store.search_users("%", limit=10)] == ["a%b"]
    assert like_escaped("5%_/") == "5/%/_//"


async def test_search_groups_by_name(store: SqlStore) -> None:
    owner = await new_user(store)
    for name in ["Team", "team-b", "the team", "other"]:
        await store.create_group(owner, uuid=f"{name:0>36}"[:36], name=name, notice="")
    found = [g.name for g in await store.search_groups("team", limit=10)]
    assert found == ["Team", "team-b", "the team"]
    assert await store.search_groups("nothing", limit=10) == []


async def test_a_version_2_database_gains_requests_and_blocks(store_config: Config) -> None:
    """A database made before friend requests: opening it applies the migration."""
    old = make_store(store_config, mysql_dialect="mariadb")
    new_tables = {old.schema.friend_requests, old.schema.user_blocks}
    before = [t for t in old.schema.metadata.sorted_tables if t not in new_tables]

    def create_version_2() -> None:
        old.schema.metadata.create_all(old.engine, tables=before)
        with old.engine.begin() as conn:
            conn.execute(
                old.schema.schema_version.insert().values(version=SCHEMA_VERSION - 1, applied_at=0)
            )

    if store_config.database.backend == "mysql":
        from chat_trio.storage.mysql import prepare_server

        await trio.to_thread.run_sync(prepare_server, store_config.mysql)
    await trio.to_thread.run_sync(create_version_2)
    await old.aclose()
    async with open_storage(store_config) as opened:
        assert await opened.schema_version() == SCHEMA_VERSION
        a, b = await new_user(opened), await new_user(opened)
        assert await opened.request_friend(a.id, b.id) == "requested"
        assert (await opened.block(b.id, a.id)).had_incoming
