"""The directory's user cache is bounded: past ``max_users`` it starts over, so
what it forgot is read again from the database (SQLite and MariaDB)."""

from __future__ import annotations

from chat_trio.directory import Directory
from chat_trio.storage import SqlStore


async def test_past_max_users_the_cache_starts_over(store: SqlStore) -> None:
    users = [
        await store.create_user(
            uuid=f"u-{i}", username=f"user{i}", password_hash="x", nickname="old", email=""
        )
        for i in range(3)
    ]
    directory = Directory(store, max_users=2)
    directory.remember(users[0])
    directory.remember(users[1])
    # changed behind the directory's back, as another node would
    await store.update_user(users[0].id, nickname="new", email="", password_hash=None)
    cached = await directory.user("u-0")
    assert cached is not None and cached.nickname == "old"  # still the cached record
    directory.remember(users[2])  # the third: the cache is full and starts over
    reread = await directory.user("u-0")
    assert reread is not None and reread.nickname == "new"
