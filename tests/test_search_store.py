"""The search index follows the messages table, on SQLite and on MariaDB.

There is no edit or delete feature yet, so these change rows the way one would
(UPDATE of the content, DELETE) and check what search finds; and the upgrade
to the search schema indexes the messages that were stored before it.
"""

from __future__ import annotations

import pytest
import trio
from sqlalchemy import Connection, Select, delete, func, insert, update
from sqlalchemy.schema import CreateTable

from chat_trio.config import Config
from chat_trio.model import Group, MessageType, NewMessage, User
from chat_trio.search import parse_query
from chat_trio.storage import SqlStore, open_storage
from chat_trio.storage import message_search as storage_search
from chat_trio.storage import schema as schema_mod
from chat_trio.storage.message_search import MessageSearch, SearchRequest
from chat_trio.storage.schema import SCHEMA_VERSION, search_ddl_sqlite, search_table_sqlite
from tests.conftest import new_user
from tests.test_storage import message


async def found(store: SqlStore, user: User, q: str, **filters: int) -> list[str]:
    page = await store.search_messages(SearchRequest(user.id, parse_query(q), 50, **filters))
    return [hit.content for hit in page.hits]


async def indexed(store: SqlStore, word: str) -> list[int]:
    """The ids the full-text index itself holds for a word, without the check in
    Python that search does after it (which would hide a stale index)."""
    m = store.schema.messages

    def run() -> list[int]:
        with store.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                fts = search_table_sqlite(m.name)
                rows = conn.exec_driver_sql(
                    f"SELECT rowid FROM {fts} WHERE {fts} MATCH ? ORDER BY rowid",
                    (f"content : {word}",),
                )
            else:
                rows = conn.exec_driver_sql(
                    f"SELECT id FROM {m.name} WHERE MATCH (content, search_scope) AGAINST "
                    "(%s IN BOOLEAN MODE) ORDER BY id", (f"+{word}",)
                )
            return [int(r[0]) for r in rows]

    return await trio.to_thread.run_sync(run)


async def change(store: SqlStore, statement: object) -> None:
    def run() -> None:
        with store.engine.begin() as conn:
            conn.execute(statement)  # type: ignore[call-overload]

    await trio.to_thread.run_sync(run)


async def test_an_updated_message_is_found_by_its_new_words_only(store: SqlStore) -> None:
    a, b = await new_user(store), await new_user(store)
    [(stored, _)] = await store.store_messages([message(a, b, "the original wording")])
    assert await found(store, b, "original") == ["the original wording"]
    m = store.schema.messages
    await change(store, update(m).where(m.c.id == stored.id).values(content="edited later"))
    assert await found(store, b, "original") == []
    assert await found(store, b, "edited") == ["edited later"]
    assert (await indexed(store, "original"), await indexed(store, "edited")) == ([], [stored.id])


async def test_a_deleted_message_leaves_the_index(store: SqlStore) -> None:
    a, b = await new_user(store), await new_user(store)
    stored = await store.store_messages(
        [message(a, b, "keep this needle"), message(a, b, "drop this needle")]
    )
    m = store.schema.messages
    await change(store, delete(m).where(m.c.id == stored[1][0].id))
    assert await found(store, a, "needle") == ["keep this needle"]
    assert await indexed(store, "needle") == [stored[0][0].id]


async def test_only_text_messages_are_searchable(store: SqlStore) -> None:
    a, b = await new_user(store), await new_user(store)
    m = store.schema.messages
    await change(
        store,
        insert(m).values(
            from_user_id=a.id, to_user_id=b.id, message_type=1, content_type=3,
            content="holiday.png", url="abc.png", created_at=1,
        ),
    )
    [(text, _)] = await store.store_messages([message(a, b, "holiday photos")])
    assert await found(store, a, "holiday") == ["holiday photos"]
    # a text turned into another type leaves the index too
    assert len(await indexed(store, "holiday")) == (1 if store.engine.name == "sqlite" else 2)
    await change(store, update(m).where(m.c.id == text.id).values(content_type=2))
    assert await found(store, a, "holiday") == []
    if store.engine.name == "sqlite":  # MariaDB indexes every row; the query asks for type 1
        assert await indexed(store, "holiday") == []


async def test_a_member_who_leaves_stops_finding_the_group(store: SqlStore) -> None:
    owner, member = await new_user(store), await new_user(store)
    group = await store.create_group(owner, uuid="8c6f2b9e-1111-4222-8333-444455556666",
                                     name="leavers", notice="")
    await store.join_group(group, member)
    await store.store_messages([group_message(owner, group, "group gossip")])
    assert await found(store, member, "gossip") == ["group gossip"]
    gm = store.schema.group_members
    await change(store, delete(gm).where(gm.c.user_id == member.id))
    assert await found(store, member, "gossip") == []
    assert await found(store, owner, "gossip") == ["group gossip"]


def group_message(sender: User, group: Group, content: str) -> NewMessage:
    return NewMessage(
        sender=sender, to_uuid=group.uuid, to_id=group.id, message_type=MessageType.GROUP,
        content_type=1, content=content, url="", client_id="", created_at_ms=1,
    )


def back_to_version_2(store: SqlStore) -> None:
    """The database as the release before search left it: no search index at all."""
    messages, version = store.schema.messages, store.schema.schema_version
    with store.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            fts = search_table_sqlite(messages.name)
            for suffix in ("insert", "delete", "update"):
                conn.exec_driver_sql(f"DROP TRIGGER {fts}_{suffix}")
            conn.exec_driver_sql(f"DROP TABLE {fts}")
            conn.exec_driver_sql(f"ALTER TABLE {messages.name} DROP COLUMN search_scope")
        else:
            # made again without the FULLTEXT index (dropping only the index and
            # adding it back is not what an upgrade does)
            messages.drop(conn)
            conn.execute(CreateTable(messages))
            for index in messages.indexes:
                if "FULLTEXT" not in str(index.dialect_options["mysql"]["prefix"]):
                    index.create(conn)
            conn.exec_driver_sql(f"ALTER TABLE {messages.name} DROP COLUMN search_scope")
        # a new database records only its version: say it is the one before
        conn.execute(
            update(version)
            .where(version.c.version == SCHEMA_VERSION)
            .values(version=SCHEMA_VERSION - 1)
        )


async def test_the_upgrade_indexes_the_messages_already_stored(store_config: Config) -> None:
    assert schema_mod.MIGRATIONS[SCHEMA_VERSION] is schema_mod._add_message_search
    async with open_storage(store_config) as store:
        a, b = await new_user(store), await new_user(store)
        owner = await new_user(store)
        group = await store.create_group(
            owner, uuid="9d7a3c1f-2222-4333-8444-555566667777", name="old", notice=""
        )
        await store.join_group(group, b)
        await trio.to_thread.run_sync(back_to_version_2, store)
        assert await store.schema_version() == SCHEMA_VERSION - 1
        m = store.schema.messages
        placeholder = "?" if store.engine.name == "sqlite" else "%s"

        def insert_as_before(rows: list[tuple[int, int, int, str]]) -> None:
            """The old release's INSERT: no search_scope column."""
            with store.engine.begin() as conn:
                for row in rows:
                    conn.exec_driver_sql(
                        f"INSERT INTO {m.name} (from_user_id, to_user_id, message_type, "
                        f"content_type, content, url, created_at) VALUES ({placeholder}, "
                        f"{placeholder}, {placeholder}, 1, {placeholder}, '', 1)",
                        row,
                    )

        await trio.to_thread.run_sync(
            insert_as_before,
            [(a.id, b.id, 1, "stored before the upgrade"),
             (owner.id, group.id, 2, "group talk before the upgrade")],
        )
    async with open_storage(store_config) as store:
        assert await store.schema_version() == SCHEMA_VERSION
        assert await found(store, b, "upgrade") == [
            "group talk before the upgrade", "stored before the upgrade",
        ]
        assert await found(store, a, "upgrade") == ["stored before the upgrade"]
        assert len(await indexed(store, "before")) == 2
        # and the triggers (SQLite) or the index (MariaDB) follow new rows from now on
        await store.store_messages([message(a, b, "stored after the upgrade")])
        assert await found(store, b, "after upgrade") == ["stored after the upgrade"]


def test_sqlite_statements_are_idempotent() -> None:
    """Each statement can run again (the migration is safe to repeat)."""
    assert all("IF NOT EXISTS" in s for s in search_ddl_sqlite("messages"))


async def test_scope_tokens_written_in_a_message_open_nothing(store: SqlStore) -> None:
    """The index matches the caller's scope token (``usr<id>``); a message whose text
    spells someone else's token must not reach them (the row's own permission is
    checked too)."""
    snoop, a, b = await new_user(store), await new_user(store), await new_user(store)
    await store.store_messages([message(a, b, f"usr{snoop.id} grp1 secret plans")])
    assert await found(store, snoop, "secret") == []
    assert await found(store, snoop, f"usr{snoop.id}") == []
    assert await found(store, b, "secret") == [f"usr{snoop.id} grp1 secret plans"]


@pytest.mark.parametrize("backend", ["mysql"])
async def test_words_first_past_its_time_limit_falls_back_to_scope_first(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A words-first statement that runs past WORDS_FIRST_SECONDS is stopped by the
    server and the page comes from the scope-first statement, with the same hits."""
    a, b = await new_user(store), await new_user(store)
    await store.store_messages([message(a, b, "slow words here"), message(a, b, "other")])
    slow_calls: list[bool] = []
    original = MessageSearch._query

    def slowed(
        self: MessageSearch, conn: Connection, request: SearchRequest, below: int | None,
        size: int, scope_first: bool = False,
    ) -> Select[tuple[int, int, int, int, str, int]]:
        query = original(self, conn, request, below, size, scope_first)
        slow_calls.append(not scope_first)
        return query.where(func.sleep(2) == 0) if not scope_first else query

    monkeypatch.setattr(MessageSearch, "_query", slowed)
    monkeypatch.setattr(storage_search, "WORDS_FIRST_SECONDS", 0.2)
    with trio.fail_after(10):
        assert await found(store, b, "slow words") == ["slow words here"]
    assert slow_calls == [True, False]  # words first, stopped; then scope first
