"""The block cache: a change here is seen at once, one made elsewhere within the TTL,
and a read that a change overtook is answered but not kept."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing

from chat_trio.blocks import BlockCache
from chat_trio.model import User
from chat_trio.storage import SqlStore, open_storage
from tests.conftest import server_config


async def two_users(store: SqlStore) -> tuple[User, User]:
    a = await store.create_user(uuid="u-a", username="a", password_hash="x", nickname="", email="")
    b = await store.create_user(uuid="u-b", username="b", password_hash="x", nickname="", email="")
    return a, b


async def test_blocks_made_elsewhere_are_seen_after_the_ttl(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with open_storage(server_config(tmp_path)) as store:
        a, b = await two_users(store)
        cache = BlockCache(store, ttl=5.0)
        assert (await cache.ties("u-b")).blocked_by == frozenset()
        await store.block(a.id, b.id)  # as another node would, with Redis away: not told
        assert (await cache.ties("u-b")).blocked_by == frozenset()
        await trio.sleep(6)  # the virtual clock: past the TTL
        assert (await cache.ties("u-b")).blocked_by == {"u-a"}
        assert (await cache.ties("u-a")).blocked == {"u-b"}


async def test_a_block_here_is_seen_at_once(tmp_path: Path) -> None:
    async with open_storage(server_config(tmp_path)) as store:
        a, b = await two_users(store)
        cache = BlockCache(store)
        await cache.ties("u-a")
        await cache.ties("u-b")
        await store.block(a.id, b.id)
        cache.forget("u-a", "u-b")  # what POST /block and the bus do
        assert (await cache.ties("u-a")).blocked == {"u-b"}
        assert (await cache.ties("u-b")).blocked_by == {"u-a"}
        await store.unblock(a.id, b.id)
        cache.forget("u-a", "u-b")
        assert (await cache.ties("u-b")).blocked_by == frozenset()


async def test_a_read_overtaken_by_a_change_is_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_storage(server_config(tmp_path)) as store:
        a, b = await two_users(store)
        cache = BlockCache(store)
        reading = trio.Event()
        blocked = trio.Event()
        real = store.block_ties

        async def slow_read(uuid: str) -> tuple[frozenset[str], frozenset[str]]:
            answer = await real(uuid)  # read before the block ...
            reading.set()
            await blocked.wait()  # ... lands after it
            return answer

        monkeypatch.setattr(store, "block_ties", slow_read)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(cache.ties, "u-b")
            await reading.wait()
            await store.block(a.id, b.id)
            cache.forget("u-a", "u-b")
            blocked.set()
        monkeypatch.setattr(store, "block_ties", real)
        assert (await cache.ties("u-b")).blocked_by == {"u-a"}
