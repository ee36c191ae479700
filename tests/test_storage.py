"""The Store contract, on both backends: SQLite and the real MariaDB/MySQL.

Each MariaDB test gets its own table prefix in the run's throwaway database, so
these tests also show that ``tablePrefix`` is honored.
"""

from __future__ import annotations

import uuid as uuid_lib
from pathlib import Path

import pytest
import trio
from sqlalchemy import Column, Connection, Integer, MetaData, Table, select

from chat_trio.config import Config, MysqlConfig
from chat_trio.errors import Conflict, StorageError
from chat_trio.model import MessageType, NewMessage, User
from chat_trio.storage import SqlStore, open_storage
from chat_trio.storage import schema as schema_mod
from chat_trio.storage import sql as sql_mod
from chat_trio.storage.schema import SCHEMA_VERSION, Schema
from tests.conftest import mysql_admin, new_user, server_config

#: 4-byte UTF-8 (outside the BMP): what utf8mb3 tables lose.
FOUR_BYTES = "𝄞 😀 🀄 👩‍💻"


def message(sender: User, to: User, content: str, client_id: str = "", at: int = 1) -> NewMessage:
    return NewMessage(
        sender=sender, to_uuid=to.uuid, to_id=to.id, message_type=MessageType.USER,
        content_type=1, content=content, url="", client_id=client_id, created_at_ms=at,
    )


async def test_schema_version_is_recorded(store: SqlStore) -> None:
    assert await store.schema_version() == SCHEMA_VERSION
    await store.create_schema()  # opening again changes nothing
    assert await store.schema_version() == SCHEMA_VERSION


async def test_batch_stored_in_order_with_increasing_ids(store: SqlStore) -> None:
    a, b = await new_user(store), await new_user(store)
    batch = [message(a, b, f"m{i}", client_id=f"c{i}", at=100 + i) for i in range(300)]
    stored = await store.store_messages(batch)
    ids = [m.id for m, _ in stored]
    assert ids == sorted(ids) and len(set(ids)) == 300
    assert all(is_new for _, is_new in stored)
    assert [m.content for m, _ in stored] == [f"m{i}" for i in range(300)]
    history = await store.conversation(a, b, limit=1000)
    assert [(m.id, m.content, m.client_id) for m in history] == [
        (m.id, m.content, m.client_id) for m, _ in stored
    ]


async def test_batch_without_returning_is_one_insert_per_row(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MySQL has no INSERT ... RETURNING: the same batch, one INSERT per row, one commit."""
    monkeypatch.setattr(sql_mod, "_batch_path", lambda _conn: "")
    a, b = await new_user(store), await new_user(store)
    batch = [message(a, b, f"m{i}", client_id=f"c{i}") for i in range(20)]
    stored = await store.store_messages([*batch, batch[3]])
    ids = [m.id for m, _ in stored]
    assert ids[:20] == sorted(ids[:20]) and len(set(ids)) == 20 and ids[20] == ids[3]
    history = await store.conversation(a, b)
    assert [(m.id, m.content) for m in history] == [(m.id, m.content) for m, _ in stored[:20]]


async def test_retried_client_id_gets_the_first_id(store: SqlStore) -> None:
    a, b = await new_user(store), await new_user(store)
    [(first, new)] = await store.store_messages([message(a, b, "once", client_id="k")])
    assert new
    again = await store.store_messages(
        [message(a, b, "once", client_id="k"), message(a, b, "two", client_id="k2"),
         message(a, b, "two", client_id="k2")]
    )
    assert (again[0][0].id, again[0][1]) == (first.id, False)
    assert again[1][1] and not again[2][1] and again[1][0].id == again[2][0].id
    assert len(await store.conversation(a, b)) == 2


async def test_a_batch_is_one_transaction(store: SqlStore) -> None:
    a, b = await new_user(store), await new_user(store)
    ghost = User(id=10**9, uuid="ghost", username="ghost", nickname="", email="", avatar="")
    # the last row breaks a foreign key: the rows before it must not stay behind
    batch = [message(a, b, "fine 1"), message(a, b, "fine 2"), message(ghost, b, "bad")]
    with pytest.raises(StorageError):
        await store.store_messages(batch)
    assert await store.conversation(a, b) == []


async def test_four_byte_utf8_round_trip(store: SqlStore) -> None:
    a = await new_user(store, f"{FOUR_BYTES}-{uuid_lib.uuid4().hex[:6]}")
    b = await new_user(store)
    [(stored, _)] = await store.store_messages([message(a, b, FOUR_BYTES * 100)])
    [back] = await store.conversation(a, b)
    assert back.content == FOUR_BYTES * 100 and back.id == stored.id
    assert back.from_username == a.username
    found = await store.user_by_username(a.username)
    assert found is not None and found.username == a.username


async def test_unique_names_are_conflicts(store: SqlStore) -> None:
    a = await new_user(store, "same-name")
    with pytest.raises(Conflict):
        await new_user(store, "same-name")
    await store.create_group(a, uuid=str(uuid_lib.uuid4()), name="g", notice="")
    with pytest.raises(Conflict):
        await store.create_group(a, uuid=str(uuid_lib.uuid4()), name="g", notice="")


async def test_newer_database_schema_is_refused(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(schema_mod, "SCHEMA_VERSION", SCHEMA_VERSION - 1)
    with pytest.raises(StorageError, match="newer than this"):
        await store.create_schema()


async def test_migration_steps_run_once_in_order(
    store_config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_storage(store_config) as store:
        a, b = await new_user(store), await new_user(store)
        await store.store_messages([message(a, b, "before the upgrade")])
    ran: list[int] = []

    def add_table(conn: Connection, schema: Schema) -> None:
        ran.append(SCHEMA_VERSION + 1)
        extra = Table(f"{schema.users.name}_extra", MetaData(), Column("n", Integer))
        extra.create(conn, checkfirst=True)

    def add_row(conn: Connection, schema: Schema) -> None:
        ran.append(SCHEMA_VERSION + 2)
        extra = Table(f"{schema.users.name}_extra", MetaData(), Column("n", Integer))
        conn.execute(extra.insert().values(n=7))

    monkeypatch.setattr(schema_mod, "SCHEMA_VERSION", SCHEMA_VERSION + 2)
    monkeypatch.setitem(schema_mod.MIGRATIONS, SCHEMA_VERSION + 1, add_table)
    monkeypatch.setitem(schema_mod.MIGRATIONS, SCHEMA_VERSION + 2, add_row)
    for _ in range(2):
        async with open_storage(store_config) as store:
            assert await store.schema_version() == SCHEMA_VERSION + 2
            extra = Table(f"{store.schema.users.name}_extra", MetaData(), Column("n", Integer))

            def read(store: SqlStore = store, extra: Table = extra) -> list[int]:
                with store.engine.connect() as conn:
                    return list(conn.execute(select(extra.c.n)).scalars())

            assert await trio.to_thread.run_sync(read) == [7]
            assert [m.content for m in await store.conversation(a, b)] == ["before the upgrade"]
    assert ran == [SCHEMA_VERSION + 1, SCHEMA_VERSION + 2]  # once each, in order


def test_migration_steps_cover_every_version() -> None:
    assert set(schema_mod.MIGRATIONS) == set(range(2, SCHEMA_VERSION + 1))


@pytest.mark.parametrize("backend", ["mysql"])
async def test_mysql_tables_carry_the_prefix_and_utf8mb4(store: SqlStore) -> None:
    config = store.engine.url
    prefix = store.schema.users.name.removesuffix("users")
    assert prefix
    conn = mysql_admin(
        MysqlConfig(host=config.host or "", port=config.port or 3306,
                    user=config.username or "", password=config.password or "")
    )
    with conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT TABLE_NAME, TABLE_COLLATION, ENGINE FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME LIKE %s",
            (config.database, prefix.replace("_", "\\_") + "%"),
        )
        rows = cursor.fetchall()
    names = {t.name for t in store.schema.metadata.sorted_tables}
    assert {r[0] for r in rows} == names
    assert {(r[1], r[2]) for r in rows} == {("utf8mb4_unicode_ci", "InnoDB")}
    assert store.engine.dialect.name in ("mariadb", "mysql")


async def test_unreachable_mysql_is_one_clear_error(tmp_path: Path) -> None:
    config = server_config(tmp_path, mysql=MysqlConfig(host="127.0.0.1", port=1, timeout=2))
    refused = r"cannot connect to MySQL/MariaDB as root@127\.0\.0\.1:1\b"
    with pytest.raises(StorageError, match=refused):
        async with open_storage(config):
            pass


async def test_a_version_1_database_gains_the_files_table(store_config: Config) -> None:
    """A database made before the files table: opening it applies migration 2."""
    from chat_trio.storage import make_store

    old = make_store(store_config, mysql_dialect="mariadb")
    later = (old.schema.files, old.schema.last_seen)
    version_1 = [t for t in old.schema.metadata.sorted_tables if t not in later]

    def create_version_1() -> None:
        old.schema.metadata.create_all(old.engine, tables=version_1)
        with old.engine.begin() as conn:
            conn.execute(old.schema.schema_version.insert().values(version=1, applied_at=0))

    if store_config.database.backend == "mysql":
        from chat_trio.storage.mysql import prepare_server

        await trio.to_thread.run_sync(prepare_server, store_config.mysql)
    await trio.to_thread.run_sync(create_version_1)
    await old.aclose()
    async with open_storage(store_config) as store:
        assert await store.schema_version() == SCHEMA_VERSION
        user = await new_user(store)
        assert await store.reserve_file(user.id, "t" * 32, 10, quota=0) == (True, 0)
        assert await store.file_usage(user.id) == 10


async def test_a_version_2_database_gains_the_last_seen_table(store_config: Config) -> None:
    """A database made before last seen was recorded: opening it adds the table."""
    from chat_trio.storage import make_store
    from chat_trio.storage.presence import PresenceStore
    from chat_trio.storage.schema import _add_last_seen_for_presence

    old = make_store(store_config, mysql_dialect="mariadb")
    version_2 = [t for t in old.schema.metadata.sorted_tables if t is not old.schema.last_seen]
    step = next(n for n, m in schema_mod.MIGRATIONS.items() if m is _add_last_seen_for_presence)

    def create_version_2() -> None:
        old.schema.metadata.create_all(old.engine, tables=version_2)
        with old.engine.begin() as conn:
            conn.execute(old.schema.schema_version.insert().values(version=step - 1, applied_at=0))

    if store_config.database.backend == "mysql":
        from chat_trio.storage.mysql import prepare_server

        await trio.to_thread.run_sync(prepare_server, store_config.mysql)
    await trio.to_thread.run_sync(create_version_2)
    await old.aclose()
    async with open_storage(store_config) as store:
        assert await store.schema_version() == SCHEMA_VERSION
        user = await new_user(store)
        presence = PresenceStore(store)
        assert await presence.last_seen([user.uuid]) == {}
        await presence.set_last_seen(user.uuid, 1234)
        await presence.set_last_seen(user.uuid, 5678)
        assert await presence.last_seen([user.uuid, "nobody"]) == {user.uuid: 5678}


async def test_file_reservations_hold_the_quota_under_concurrency(store: SqlStore) -> None:
    """Forty reservations at once of 100 bytes against a quota of 1000: ten granted.
    A few rounds, because an unlocked check loses this race only now and then."""
    other = await new_user(store)
    for _round in range(5):
        user = await new_user(store)
        granted: list[bool] = []

        async def reserve(n: int, user: User = user, granted: list[bool] = granted) -> None:
            ok, _used = await store.reserve_file(user.id, f"{user.id}-{n:029d}", 100, quota=1000)
            granted.append(ok)

        async with trio.open_nursery() as nursery:
            for n in range(40):
                nursery.start_soon(reserve, n)
        assert granted.count(True) == 10
        assert await store.file_usage(user.id) == 1000
    assert await store.file_usage(other.id) == 0


async def test_a_file_record_is_finished_or_released(store: SqlStore) -> None:
    user = await new_user(store)
    assert await store.reserve_file(user.id, "a" * 32, 500, quota=1000) == (True, 0)
    assert await store.reserve_file(user.id, "b" * 32, 500, quota=1000) == (True, 500)
    assert await store.reserve_file(user.id, "c" * 32, 1, quota=1000) == (False, 1000)
    await store.finish_file("a" * 32, "a" * 32 + ".png", 120)  # the real size
    await store.release_file("b" * 32)  # a failed upload
    assert await store.file_usage(user.id) == 120
    assert await store.stored_file("a" * 32 + ".png") == (user.id, 120)
    assert await store.stored_file("b" * 32) is None


async def test_a_stale_reservation_stops_counting(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a node that stopped mid-upload reserved is not held against its owner."""
    user = await new_user(store)
    assert (await store.reserve_file(user.id, "d" * 32, 900, quota=1000))[0]
    later = sql_mod.now_ms() + sql_mod.PENDING_FILE_EXPIRY_MS + 1
    monkeypatch.setattr(sql_mod, "now_ms", lambda: later)
    assert await store.reserve_file(user.id, "e" * 32, 900, quota=1000) == (True, 0)


async def test_presence_skips_large_groups(store: SqlStore) -> None:
    """The audience is friends and co-members in groups up to ``max_group`` members."""
    from chat_trio.storage.presence import PresenceStore

    me, friend, small_mate, *crowd = [await new_user(store) for _ in range(6)]
    await store.add_friend(me.id, friend.id)
    small = await store.create_group(me, uuid=str(uuid_lib.uuid4()), name="small", notice="")
    await store.join_group(small, small_mate)
    big = await store.create_group(crowd[0], uuid=str(uuid_lib.uuid4()), name="big", notice="")
    for user in (me, *crowd[1:]):
        await store.join_group(big, user)
    presence = PresenceStore(store)
    assert await presence.audience(me.uuid, max_group=3) == sorted([friend.uuid, small_mate.uuid])
    everyone = sorted(u.uuid for u in (friend, small_mate, *crowd))
    assert await presence.audience(me.uuid, max_group=10) == everyone
    assert await presence.audience(friend.uuid, max_group=10) == [me.uuid]  # both ways
    assert await presence.audience("nobody", max_group=10) == []
    # several users in one query: each gets its own audience
    assert await presence.audiences([me.uuid, friend.uuid, "nobody"], max_group=3) == {
        me.uuid: sorted([friend.uuid, small_mate.uuid]), friend.uuid: [me.uuid],
    }
    await presence.set_last_seen(me.uuid, 10)
    await presence.set_last_seen_many({me.uuid: 20, friend.uuid: 30, "nobody": 40})
    await presence.set_last_seen(me.uuid, 15)  # an older departure, written late
    assert await presence.last_seen([me.uuid, friend.uuid, "nobody"]) == {
        me.uuid: 20, friend.uuid: 30,
    }
