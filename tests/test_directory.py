"""The directory's caches: a join seen here at once, a join elsewhere within the TTL."""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing

from chat_trio.directory import Directory
from chat_trio.storage import open_storage
from tests.conftest import server_config


async def test_group_members_reload_after_the_ttl(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with open_storage(server_config(tmp_path)) as store:
        owner = await store.create_user(
            uuid="u-owner", username="owner", password_hash="x", nickname="", email=""
        )
        late = await store.create_user(
            uuid="u-late", username="late", password_hash="x", nickname="", email=""
        )
        group = await store.create_group(owner, uuid="g-1", name="g", notice="")
        directory = Directory(store, group_ttl=5.0)
        assert (await directory.group("g-1")).member_uuids == {"u-owner"}  # type: ignore[union-attr]

        await store.join_group(group, late)  # as another node would: the cache is not told
        assert (await directory.group("g-1")).member_uuids == {"u-owner"}  # type: ignore[union-attr]
        await trio.sleep(6)  # the virtual clock: past the TTL
        assert (await directory.group("g-1")).member_uuids == {  # type: ignore[union-attr]
            "u-owner", "u-late",
        }


async def test_a_join_here_is_seen_at_once(tmp_path: Path) -> None:
    async with open_storage(server_config(tmp_path)) as store:
        owner = await store.create_user(
            uuid="u-owner", username="owner", password_hash="x", nickname="", email=""
        )
        late = await store.create_user(
            uuid="u-late", username="late", password_hash="x", nickname="", email=""
        )
        group = await store.create_group(owner, uuid="g-1", name="g", notice="")
        directory = Directory(store)
        await directory.group("g-1")
        await store.join_group(group, late)
        directory.forget_group("g-1")  # what POST /group/join does
        assert (await directory.group("g-1")).member_uuids == {  # type: ignore[union-attr]
            "u-owner", "u-late",
        }
