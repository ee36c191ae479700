"""Delivery guarantees: acks and retries, several devices, order, catch-up."""

from __future__ import annotations

import pytest
import trio

from chat_trio.client import Connection, Message
from chat_trio.model import FrameType
from tests.conftest import MakeUser, User, make_group
from tests.test_socket import assert_nothing_more, welcome


@pytest.fixture
def server_limits() -> dict[str, object]:
    # These tests stream thousands of messages; the per-session rate limit has its own test.
    return {"messages_per_second": 100_000.0, "message_burst": 100_000}


async def history(reader: User, other: User) -> list[dict[str, object]]:
    items: list[dict[str, object]] = await reader.api.request(
        "GET", "/message",
        params={"Uuid": reader.uuid, "MessageType": 1, "FriendUsername": other.username,
                "limit": 1000},
    )
    return items


async def next_ack(conn: Connection) -> tuple[str, int]:
    with trio.fail_after(10):
        while True:
            frame = await conn.receive()
            if frame.type == FrameType.ACK:
                return frame.clientId, frame.id


async def test_a_retry_with_the_same_client_id_is_stored_once(make_user: MakeUser) -> None:
    a, b = await make_user(), await make_user()
    async with a.api.connect() as ca, b.api.connect() as cb:
        await welcome(ca)
        await welcome(cb)
        await ca.send_text(b.uuid, "only once", client_id="retry-1")
        first = await next_ack(ca)
        await ca.send_text(b.uuid, "only once", client_id="retry-1")
        second = await next_ack(ca)
        assert first == second == ("retry-1", first[1])
        assert (await cb.receive()).content == "only once"
        await assert_nothing_more(cb)  # the retry was not delivered again
    assert [m["id"] for m in await history(b, a)] == [first[1]]


async def test_every_session_of_a_user_receives_and_sees_what_it_sent(
    make_user: MakeUser,
) -> None:
    a, b = await make_user(), await make_user()
    group_uuid = await make_group(b, "devices", a)
    async with (
        a.api.connect() as phone,
        a.api.connect() as laptop,
        b.api.connect() as b1,
        b.api.connect() as b2,
    ):
        for conn in (phone, laptop, b1, b2):
            await welcome(conn)
        await phone.send_text(b.uuid, "to both of b's devices")
        await next_ack(phone)
        for conn in (b1, b2, laptop):
            got = await conn.receive()
            assert (getattr(got, "from"), got.to, got.content) == (
                a.uuid, b.uuid, "to both of b's devices",
            )
        await phone.send_text(group_uuid, "group too", group=True)
        await next_ack(phone)
        for conn in (b1, b2, laptop):
            got = await conn.receive()
            assert (getattr(got, "from"), got.to, got.content) == (group_uuid, a.uuid, "group too")
        await assert_nothing_more(phone)  # the sending session gets only its acks


async def test_order_per_conversation_under_concurrent_senders(make_user: MakeUser) -> None:
    receiver = await make_user()
    senders = [await make_user() for _ in range(3)]
    per_sender = 150
    got: list[tuple[str, int, int]] = []
    async with receiver.api.connect() as cr:
        await welcome(cr)

        async def send(sender: User) -> None:
            async with sender.api.connect() as cs:
                await welcome(cs)
                for i in range(per_sender):
                    await cs.send_text(receiver.uuid, str(i))
                for _ in range(per_sender):
                    await next_ack(cs)

        async def receive() -> None:
            while len(got) < per_sender * len(senders):
                frame = await cr.receive()
                got.append((getattr(frame, "from"), int(frame.content), frame.id))

        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(receive)
                for sender in senders:
                    nursery.start_soon(send, sender)
    ids = [message_id for _, _, message_id in got]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)  # delivered in id order
    for sender in senders:
        sequence = [n for who, n, _ in got if who == sender.uuid]
        assert sequence == list(range(per_sender))
        assert [int(str(m["content"])) for m in await history(receiver, sender)] == sequence


async def send_backlog(
    sender: User, away: User, group_uuid: str, total: int, *, every: int, prefix: str
) -> None:
    """``total`` acked messages to ``away`` while it is offline; every ``every``-th one
    goes to the group instead."""
    async with sender.api.connect() as cs:
        await welcome(cs)
        for i in range(total):
            to_group = i % every == 0
            to = group_uuid if to_group else away.uuid
            await cs.send_text(to, f"{prefix}{i}", group=to_group)
        for _ in range(total):
            await next_ack(cs)


async def test_catch_up_after_being_away_pages_a_large_backlog(make_user: MakeUser) -> None:
    sender, away = await make_user(), await make_user()
    group_uuid = await make_group(sender, "backlog", away)
    total = 2500
    await send_backlog(sender, away, group_uuid, total, every=5, prefix="m")
    seen = await away.api.since(0, page=1000)
    assert [m["content"] for m in seen] == [f"m{i}" for i in range(total)]
    ids = [int(str(m["id"])) for m in seen]
    assert ids == sorted(ids) and len(set(ids)) == total
    group_items = [m for m in seen if m["messageType"] == 2]
    assert len(group_items) == total // 5 and group_items[0]["toUserId"] == group_uuid


async def sync_all(conn: Connection, after: int) -> list[Message]:
    """Catch up over the socket: pages of stored frames until the marker says done."""
    got: list[Message] = []
    with trio.fail_after(60):
        while True:
            await conn.send(Message(type=FrameType.SYNC, id=after))
            while True:
                frame = await conn.receive()
                if frame.type == FrameType.SYNC:
                    break
                got.append(frame)
            after = frame.id
            if frame.content == "done":
                return got


async def test_catch_up_over_the_socket(make_user: MakeUser) -> None:
    sender, away = await make_user(), await make_user()
    group_uuid = await make_group(sender, "socket-backlog", away)
    total = 1200
    await send_backlog(sender, away, group_uuid, total, every=4, prefix="s")
    async with away.api.connect() as ca:
        await welcome(ca)
        got = await sync_all(ca, 0)
        await assert_nothing_more(ca)
    assert [m.content for m in got] == [f"s{i}" for i in range(total)]
    assert [m.id for m in got] == sorted({m.id for m in got})
    first_group = got[0]
    assert (getattr(first_group, "from"), first_group.to) == (group_uuid, sender.uuid)
    assert getattr(got[1], "from") == sender.uuid and got[1].to == away.uuid
