"""The store writer on a real database (SQLite and MariaDB): a backlog longer than
``max_batch`` is stored in batches of at most that many, in order, and asking it
to flush once its queue is closed returns at once."""

from __future__ import annotations

from typing import cast

import trio

from chat_trio.hub import Batch, HubEvent, Reply
from chat_trio.intake import PersistRequest
from chat_trio.model import MessageType, NewMessage
from chat_trio.session import Session
from chat_trio.storage import SqlStore
from chat_trio.writer import StoreWriter
from tests.conftest import new_user


class Origin:
    """The session that sent the messages, as the hub sees it: the writer only
    hands it back in the acks, never calls it."""

    def __init__(self, user_uuid: str) -> None:
        self.user_uuid = user_uuid

    def deliver(self, payload: bytes) -> bool:
        raise AssertionError("the writer never delivers itself")


async def test_a_backlog_is_stored_in_batches_of_at_most_max_batch(store: SqlStore) -> None:
    a, b = await new_user(store), await new_user(store)
    origin = cast(Session, Origin(a.uuid))
    inbox_send, inbox = trio.open_memory_channel[HubEvent](100)
    writer = StoreWriter(store, inbox_send, max_batch=2)
    for i in range(5):  # all queued before the writer runs: one backlog
        message = NewMessage(
            sender=a, to_uuid=b.uuid, to_id=b.id, message_type=MessageType.USER,
            content_type=1, content=f"m{i}", url="", client_id=f"c{i}", created_at_ms=i,
        )
        writer.queue.send_nowait(PersistRequest(message, origin, (a.uuid, b.uuid)))
    writer.queue.close()
    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)
        with trio.fail_after(10):
            await writer.finished.wait()
    batches = []
    while True:
        try:
            event = inbox.receive_nowait()
        except trio.WouldBlock:
            break
        assert isinstance(event, Batch)
        batches.append([e for e in event.events if isinstance(e, Reply)])
    assert [len(acks) for acks in batches] == [2, 2, 1]
    assert all(ack.peer is origin for acks in batches for ack in acks)
    assert (writer.batches, writer.stored) == (3, 5)
    stored = await store.conversation(a, b, limit=10)
    assert [m.content for m in stored] == [f"m{i}" for i in range(5)]


async def test_flush_after_the_queue_closed_returns(store: SqlStore) -> None:
    inbox_send, _inbox = trio.open_memory_channel[HubEvent](1)
    writer = StoreWriter(store, inbox_send)
    writer.queue.close()
    with trio.fail_after(5):
        await writer.flush()
