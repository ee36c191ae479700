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


async def test_a_profile_change_is_not_undone_by_a_read_it_overtook(tmp_path: Path) -> None:
    """A user read that began before a profile change (a token check, say) may hold
    the old profile: it is answered to its caller but the directory keeps the new one."""
    async with open_storage(server_config(tmp_path)) as store:
        user = await store.create_user(
            uuid="u-1", username="u1", password_hash="x", nickname="old", email=""
        )
        directory = Directory(store)
        assert await directory.user("u-1") == user
        mark = directory.mark()
        stale = await store.user_by_uuid("u-1")  # read before the change ...
        await store.set_avatar(user.id, "new.png")
        changed = await directory.profile_changed("u-1")
        assert changed is not None and changed.avatar == "new.png"
        assert stale is not None and directory.learned(stale, mark) == changed  # ... lands after
        assert await directory.user("u-1") == changed
