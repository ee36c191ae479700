"""History paged backwards with ``before``: the newest ``limit`` messages older than
the id, oldest first, for a conversation and a group (SQLite and MariaDB)."""

from __future__ import annotations

import uuid as uuid_lib

from chat_trio.model import MessageType, NewMessage, User
from chat_trio.storage import SqlStore
from tests.conftest import new_user


def message(sender: User, to_uuid: str, to_id: int, kind: MessageType, i: int) -> NewMessage:
    return NewMessage(
        sender=sender, to_uuid=to_uuid, to_id=to_id, message_type=kind, content_type=1,
        content=f"m{i}", url="", client_id=f"c{kind}-{i}", created_at_ms=100 + i,
    )


async def test_before_pages_backwards_oldest_first(store: SqlStore) -> None:
    a, b = await new_user(store), await new_user(store)
    group = await store.create_group(a, uuid=str(uuid_lib.uuid4()), name="g", notice="")
    direct = await store.store_messages(
        [message(a, b.uuid, b.id, MessageType.USER, i) for i in range(5)]
    )
    in_group = await store.store_messages(
        [message(a, group.uuid, group.id, MessageType.GROUP, i) for i in range(5)]
    )
    ids = [m.id for m, _ in direct]
    page = await store.conversation(a, b, limit=2, before=ids[3])
    assert [m.content for m in page] == ["m1", "m2"]
    assert await store.conversation(b, a, limit=10, before=ids[0]) == []
    group_ids = [m.id for m, _ in in_group]
    page = await store.group_history(group, limit=3, before=group_ids[4])
    assert [m.content for m in page] == ["m1", "m2", "m3"]
