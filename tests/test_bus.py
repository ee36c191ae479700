"""The bus in one process: frame and RESP encoding, and two Redis buses talking.

The Redis tests use the real Redis on 127.0.0.1:6379 under a key prefix of
their own; waits on the other bus's view are bounded with ``trio.fail_after``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import trio

from chat_trio.bus import MemoryBus, Revocation, open_bus
from chat_trio.bus.redis import RedisBus, decode_frame, encode_frame
from chat_trio.bus.resp import RedisAddress, RedisConnection, ReplyError, encode
from chat_trio.config import Config
from chat_trio.hub import Fanout, Hub, HubEvent, Register

pytestmark = pytest.mark.multinode

URL = "redis://127.0.0.1:6379/0"


def test_frame_round_trip() -> None:
    frame = encode_frame(["u1", "u2"], b"\x00payload,with,commas")
    assert decode_frame(frame) == (("u1", "u2"), b"\x00payload,with,commas")
    with pytest.raises(ValueError, match="header"):
        decode_frame(b"\x00\x00\x00\x09ab")


def test_resp_encoding_and_address() -> None:
    assert encode("SET", b"k", 5) == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n5\r\n"
    address = RedisAddress.parse("redis://:s%40cret@redis.example:6380/3")
    assert (address.host, address.port, address.db, address.password) == (
        "redis.example", 6380, 3, "s@cret",
    )
    with pytest.raises(ValueError, match="redis://"):
        RedisAddress.parse("http://x")


def test_open_bus_follows_the_config() -> None:
    inbox, _ = trio.open_memory_channel[HubEvent](1)
    assert isinstance(open_bus(Config(), inbox, local_users=lambda: ()), MemoryBus)
    redis_config = Config().replace("msg_channel", channel_type="redis")
    assert isinstance(open_bus(redis_config, inbox, local_users=lambda: ()), RedisBus)


async def test_connection_pipelines_and_reports_errors() -> None:
    connection = await RedisConnection.open(RedisAddress.parse(URL))
    key = f"chat_trio_test_{uuid.uuid4().hex}"
    try:
        replies = await connection.execute(
            ("SET", key, "v", "EX", 10), ("GET", key), ("INCR", key), ("DEL", key)
        )
        assert replies[:2] == [b"OK", b"v"]
        assert isinstance(replies[2], ReplyError)
        assert replies[3] == 1
    finally:
        await connection.aclose()


async def until(check: Callable[[], bool]) -> None:
    with trio.fail_after(10):
        while not check():  # noqa: ASYNC110 - the state lives in another bus's Redis traffic
            await trio.sleep(0.02)


async def test_two_buses_share_presence_and_frames(nursery: trio.Nursery) -> None:
    prefix = f"chat_trio_test_{uuid.uuid4().hex[:10]}"
    inbox_a, received_a = trio.open_memory_channel[HubEvent](16)
    inbox_b, _received_b = trio.open_memory_channel[HubEvent](16)
    a = RedisBus(URL, prefix, inbox_a, local_users=lambda: (), heartbeat=0.2, node_ttl=1)
    b = RedisBus(URL, prefix, inbox_b, local_users=lambda: (), heartbeat=0.2, node_ttl=1)
    await nursery.start(a.run)
    await nursery.start(b.run)
    await until(lambda: a.health() == "ok" and b.health() == "ok")

    a.presence_changed("alice", True)
    await until(lambda: b.nodes_elsewhere("alice") == 1)
    assert a.nodes_elsewhere("alice") == 0  # her own node is not "elsewhere"

    b.publish(b"frame bytes", ("alice", "nobody"))
    with trio.fail_after(10):
        event = await received_a.receive()
    assert event == Fanout(b"frame bytes", ("alice",))

    a.presence_changed("alice", False)
    await until(lambda: b.nodes_elsewhere("alice") == 0)
    assert b.statistics().nodes == 2


@dataclass(eq=False)
class Peer:
    user_uuid: str
    features: frozenset[str] = frozenset()

    def deliver(self, payload: bytes) -> bool:
        return True


async def test_a_node_registers_the_users_its_hub_holds(nursery: trio.Nursery) -> None:
    """The hub's registry is the one record of who is online here: a bus that
    connects after the sessions registered (or reconnects) writes what the hub
    holds, told nothing through ``presence_changed``."""
    prefix = f"chat_trio_test_{uuid.uuid4().hex[:10]}"
    hub = Hub()
    hub.handle(Register(Peer("alice")))
    hub.handle(Register(Peer("alice")))
    hub.handle(Register(Peer("bob")))
    inbox_b, _ = trio.open_memory_channel[HubEvent](16)
    a = RedisBus(URL, prefix, hub.inbox, local_users=hub.online_users, heartbeat=0.2, node_ttl=1)
    b = RedisBus(URL, prefix, inbox_b, local_users=lambda: (), heartbeat=0.2, node_ttl=1)
    await nursery.start(b.run)
    await nursery.start(a.run)
    await until(lambda: b.nodes_elsewhere("alice") == 1 and b.nodes_elsewhere("bob") == 1)
    assert b.nodes_elsewhere("carol") == 0


async def test_unreachable_redis_is_reported_not_raised(nursery: trio.Nursery) -> None:
    inbox, _ = trio.open_memory_channel[HubEvent](1)
    bus = RedisBus("redis://127.0.0.1:1/0", "chat_trio_test_down", inbox, local_users=lambda: ())
    await nursery.start(bus.run)
    bus.presence_changed("alice", True)
    bus.publish(b"x", ("alice",))
    await until(lambda: bus.health().startswith("unreachable: cannot connect"))


async def test_a_revocation_reaches_every_other_node(nursery: trio.Nursery) -> None:
    prefix = f"chat_trio_test_{uuid.uuid4().hex[:10]}"
    inbox_a, _ = trio.open_memory_channel[HubEvent](16)
    inbox_b, _ = trio.open_memory_channel[HubEvent](16)
    a = RedisBus(URL, prefix, inbox_a, local_users=lambda: (), heartbeat=0.2, node_ttl=1)
    b = RedisBus(URL, prefix, inbox_b, local_users=lambda: (), heartbeat=0.2, node_ttl=1)
    heard_by_a: list[Revocation] = []
    heard_by_b: list[Revocation] = []
    two_heard = trio.Event()

    def hear(revocation: Revocation) -> None:
        heard_by_b.append(revocation)
        if len(heard_by_b) == 2:
            two_heard.set()

    a.on_revocation = heard_by_a.append
    b.on_revocation = hear
    await nursery.start(a.run)
    await nursery.start(b.run)
    await until(lambda: a.health() == "ok" and b.health() == "ok")

    logout = Revocation(token_hash="ab" * 32)
    password_change = Revocation(user_id=42, keep_hash="cd" * 32)
    a.publish_revocation(logout)
    a.publish_revocation(password_change)
    with trio.fail_after(10):
        await two_heard.wait()
    assert heard_by_b == [logout, password_change]
    assert heard_by_a == []  # its own revocations were handled where they were made


async def test_a_block_change_reaches_other_nodes_ahead_of_its_frames(
    nursery: trio.Nursery,
) -> None:
    """A node that delivers the friend event a block sent has already dropped
    its cached blocks of both users."""
    prefix = f"chat_trio_test_{uuid.uuid4().hex[:10]}"
    inbox_a, _ = trio.open_memory_channel[HubEvent](16)
    inbox_b, received_b = trio.open_memory_channel[HubEvent](16)
    a = RedisBus(URL, prefix, inbox_a, local_users=lambda: (), heartbeat=0.2, node_ttl=1)
    b = RedisBus(URL, prefix, inbox_b, local_users=lambda: (), heartbeat=0.2, node_ttl=1)
    heard: list[tuple[str, ...]] = []
    a.on_block_change = heard.append  # its own changes are handled where they are made
    b.on_block_change = heard.append
    await nursery.start(a.run)
    await nursery.start(b.run)
    await until(lambda: a.health() == "ok" and b.health() == "ok")
    b.presence_changed("bob", True)
    await until(lambda: a.nodes_elsewhere("bob") == 1)

    a.publish_block_change(("alice", "bob"))
    a.publish(b"the friend event", ("bob",))
    with trio.fail_after(10):
        event = await received_b.receive()
    assert event == Fanout(b"the friend event", ("bob",))
    assert heard == [("alice", "bob")]
