"""The store writer: persists chat messages in batches, then hands them to the hub.

It takes whatever is queued (no timer: a batch is what piled up while the last
one was being written), stores it in one transaction, and then, in id order,
sends the hub one delivery per message (and the bus the same, for sessions on
other nodes) and the sender an ack. So one fsync
covers a whole burst, and nothing is delivered or acked before it is on disk.
When the database fails, each sender of the batch gets an error frame (code
503) instead of an ack: nothing is dropped without a word, and the next batch
tries again. A stored message goes to its recipients' sessions and to the
sender's other sessions, never back to the session that sent it.
"""

from __future__ import annotations

import logging

import trio
from prometheus_client import Counter

from chat_trio import codec
from chat_trio.bus import Bus, MemoryBus
from chat_trio.errors import StorageError
from chat_trio.hub import Batch, Fanout, Flush, HubEvent, Reply
from chat_trio.intake import PersistRequest
from chat_trio.metrics import Metrics
from chat_trio.storage import Store

log = logging.getLogger(__name__)


class StoreWriter:
    def __init__(
        self,
        store: Store,
        hub_inbox: trio.MemorySendChannel[HubEvent],
        *,
        queue_size: int = 4096,
        max_batch: int = 512,
        metrics: Metrics | None = None,
        bus: Bus | None = None,
    ) -> None:
        self._store = store
        #: Carries each stored message to the other nodes (a no-op on one node).
        self._bus: Bus = bus or MemoryBus()
        self._metrics = metrics or Metrics()
        self._stored_by_type: dict[int, Counter] = {}
        self._hub_inbox = hub_inbox
        self._max_batch = max_batch
        send, self._receive = trio.open_memory_channel[PersistRequest | Flush](queue_size)
        #: Where the intake queues chat messages; bounded, so a flood waits here.
        self.queue: trio.MemorySendChannel[PersistRequest | Flush] = send
        self.batches = 0
        self.stored = 0
        #: Set when the queue was closed and everything in it was handled.
        self.finished = trio.Event()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        async for item in self._receive:
            batch: list[PersistRequest] = []
            while True:
                if isinstance(item, Flush):
                    # Everything queued before the marker is in `batch` or written.
                    if batch:
                        await self._write(batch)
                        batch = []
                    await self._hub_inbox.send(item)
                    break
                batch.append(item)
                if len(batch) >= self._max_batch:
                    break
                try:
                    item = self._receive.receive_nowait()
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
            if batch:
                await self._write(batch)
        self.finished.set()

    async def flush(self) -> None:
        """Wait until every message queued so far is stored, acked and handed to the hub,
        and the hub has handled all of that."""
        done = trio.Event()
        try:
            await self.queue.send(Flush(done))
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            return
        await done.wait()

    async def _write(self, batch: list[PersistRequest]) -> None:
        metrics = self._metrics
        metrics.store_batch_size.observe(len(batch))
        started = trio.current_time()
        try:
            stored = await self._store.store_messages([r.message for r in batch])
        except StorageError as exc:
            metrics.store_failures.inc()
            log.error("storing a batch of %d messages failed: %s", len(batch), exc)
            for request in batch:
                refusal = codec.error_frame(
                    503, "the message could not be stored; it was not sent",
                    request.message.client_id, "not_stored",
                )
                await self._hub_inbox.send(Reply(request.origin, refusal))
            return
        now = trio.current_time()
        metrics.store_batch_seconds.observe(now - started)
        self.batches += 1
        self.stored += len(batch)
        # One hub event for the whole batch: deliveries and acks in id order, at the
        # cost of one channel send instead of two per message.
        events: list[Fanout | Reply] = []
        append = events.append
        observe = metrics.delivery_latency.observe
        publish = self._bus.publish
        # messages_stored by content type, counted per batch: one locked inc() per
        # type instead of one per message.
        new_by_type: dict[int, int] = {}
        for request, (message, is_new) in zip(batch, stored, strict=True):
            observe(now - request.received_at)
            if is_new:
                content_type = message.content_type
                new_by_type[content_type] = new_by_type.get(content_type, 0) + 1
                frame = codec.stored_frame(message)
                append(Fanout(frame, request.recipients, request.origin))
                publish(frame, request.recipients)
            if message.client_id:
                ack = codec.ack_frame(message.client_id, message.id, message.created_at_ms)
                append(Reply(request.origin, ack))
        for content_type, count in new_by_type.items():
            self._stored_counter(content_type).inc(count)
        await self._hub_inbox.send(Batch(tuple(events)))

    def _stored_counter(self, content_type: int) -> Counter:
        """The per-content-type counter, looked up once (``labels()`` is not free)."""
        counter = self._stored_by_type.get(content_type)
        if counter is None:
            counter = self._metrics.messages_stored.labels(str(content_type))
            self._stored_by_type[content_type] = counter
        return counter
