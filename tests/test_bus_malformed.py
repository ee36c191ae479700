"""What the Redis bus does with what it cannot read: a malformed frame on its node
channel, or a malformed revocation on the presence channel, is logged and dropped,
and what comes after it is still heard (the real Redis on 127.0.0.1:6379)."""

from __future__ import annotations

import logging
import uuid

import pytest
import trio

from chat_trio.bus import Revocation
from chat_trio.bus.redis import RedisBus, encode_frame
from chat_trio.bus.resp import RedisAddress, RedisConnection
from chat_trio.hub import Fanout, HubEvent
from tests.test_bus import URL, until

pytestmark = pytest.mark.multinode


async def test_malformed_frames_and_revocations_are_dropped_and_logged(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    prefix = f"chat_trio_test_{uuid.uuid4().hex[:10]}"
    inbox, received = trio.open_memory_channel[HubEvent](16)
    bus = RedisBus(URL, prefix, inbox, local_users=lambda: (), node_id="n1", heartbeat=0.2)
    heard: list[Revocation] = []
    valid_heard = trio.Event()

    def hear(revocation: Revocation) -> None:
        heard.append(revocation)
        valid_heard.set()

    bus.on_revocation = hear
    await nursery.start(bus.run)
    await until(lambda: bus.health() == "ok")
    assert bus.node_id == "n1"
    publisher = await RedisConnection.open(RedisAddress.parse(URL))
    try:
        with caplog.at_level(logging.WARNING, "chat_trio.bus.redis"):
            await publisher.execute(
                ("PUBLISH", f"{prefix}:to:n1", b"\x00\x01"),  # shorter than its header
                ("PUBLISH", f"{prefix}:to:n1", b"\x00\x00\x00\x09ab"),  # header too long
                ("PUBLISH", f"{prefix}:to:n1", encode_frame(["alice"], b"after")),
                ("PUBLISH", f"{prefix}:presence", "r n2"),  # no token hash
                ("PUBLISH", f"{prefix}:presence", "p n2 0 cd"),  # no such user id
                ("PUBLISH", f"{prefix}:presence", "r n2 ab"),
            )
            with trio.fail_after(10):
                assert await received.receive() == Fanout(b"after", ("alice",))
                await valid_heard.wait()
    finally:
        await publisher.aclose()
    assert heard == [Revocation(token_hash="ab")]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [w.split(":")[1].strip() for w in warnings] == [
        "dropped a malformed frame", "dropped a malformed frame",
        "dropped a malformed revocation", "dropped a malformed revocation",
    ], warnings
