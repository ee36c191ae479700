"""Read positions, receipts and mutes end to end: a real server on each backend, real
sockets, the HTTP API; every authorization check with a test that fails without it."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from chat_trio.client import ApiError, ChatClient, Connection, Message
from chat_trio.model import FrameType
from tests.conftest import (
    PASSWORD,
    MakeUser,
    Server,
    User,
    make_group,
    server_config,
    start_server,
)
from tests.test_http_api import make_user_client
from tests.test_socket import assert_nothing_more, next_of_type, welcome


async def send_acked(conn: Connection, to: str, content: str, *, group: bool = False) -> int:
    """Send a text and wait for its ack; the stored id."""
    client_id = await conn.send_text(to, content, group=group)
    with trio.fail_after(10):
        while True:
            frame = await conn.receive()
            if frame.type == FrameType.ACK and frame.clientId == client_id:
                return int(frame.id)


async def read_over_socket(conn: Connection, to: str, message_id: int, kind: int = 1) -> None:
    await conn.send(Message(type=FrameType.READ, to=to, messageType=kind, id=message_id))


async def conversations(user: User | ChatClient, **params: object) -> dict[str, Any]:
    api = user.api if isinstance(user, User) else user
    page: dict[str, Any] = await api.request("GET", "/conversations", params=params)
    return page


async def entry(user: User, uuid: str) -> dict[str, Any]:
    """The caller's conversation ``uuid`` in its list."""
    page = await conversations(user, limit=200)
    found: dict[str, Any] = next(c for c in page["items"] if c["uuid"] == uuid)
    return found


async def refused(user: User, method: str, path: str, status: int, **kwargs: Any) -> str:
    with pytest.raises(ApiError) as error:
        await user.api.request(method, path, **kwargs)
    assert error.value.status == status, error.value.msg
    return error.value.msg


def frame_of(message: Message) -> tuple[str, str, str, int, int, int]:
    return (
        message.type, getattr(message, "from"), message.to, message.messageType, message.id,
        message.unread,
    )


async def test_a_read_frame_reaches_the_readers_devices_and_the_peer(
    server: Server, make_user: MakeUser
) -> None:
    a, b = await make_user(), await make_user()
    laptop_api = await make_user_client(server, a.username, PASSWORD)
    try:
        async with (
            a.api.connect(features="reads") as phone,
            laptop_api.connect(features="reads") as laptop,
            b.api.connect(features="reads") as cb,
        ):
            for conn in (phone, laptop, cb):
                await welcome(conn)
            first = await send_acked(cb, a.uuid, "one")
            second = await send_acked(cb, a.uuid, "two")
            for conn in (phone, laptop):
                assert (await conn.receive_chat()).id == first
                assert (await conn.receive_chat()).id == second
            assert (await entry(a, b.uuid))["unread"] == 2
            await read_over_socket(phone, b.uuid, first)
            mine = ("read", a.uuid, b.uuid, 1, first, 1)  # one unread left
            for conn in (phone, laptop):
                assert frame_of(await next_of_type(conn, FrameType.READ)) == mine
            # the peer learns it: its message `first` was read
            assert frame_of(await next_of_type(cb, FrameType.READ)) == (
                "read", a.uuid, b.uuid, 1, first, 0,
            )
            listed = await entry(a, b.uuid)
            assert (listed["readId"], listed["unread"]) == (first, 1)
            assert (await entry(b, a.uuid))["peerReadId"] == first
            # the same id again moves nothing: only the asking session hears the position
            await read_over_socket(laptop, b.uuid, first)
            assert frame_of(await next_of_type(laptop, FrameType.READ)) == mine
            await assert_nothing_more(phone)
            await assert_nothing_more(cb)
    finally:
        await laptop_api.http.aclose()


async def test_http_read_moves_to_the_newest_at_or_below_and_pushes(make_user: MakeUser) -> None:
    a, b = await make_user(), await make_user()
    async with a.api.connect(features="reads") as ca, b.api.connect(features="reads") as cb:
        await welcome(ca)
        await welcome(cb)
        ids = [await send_acked(cb, a.uuid, f"m{i}") for i in range(3)]
        mine = await send_acked(ca, b.uuid, "mine")
        answer = await a.api.request(
            "PUT", f"/conversations/user/{b.uuid}/read", json={"id": mine + 1000}
        )
        # "up to the newest" may name any larger id; own messages are never unread
        assert answer == {"readId": mine, "unread": 0, "moved": True}
        assert frame_of(await next_of_type(ca, FrameType.READ)) == (
            "read", a.uuid, b.uuid, 1, mine, 0,
        )
        assert (await next_of_type(cb, FrameType.READ)).id == mine
        again = await a.api.request(
            "POST", f"/conversations/user/{b.uuid}/read", json={"id": ids[0]}
        )
        assert again == {"readId": mine, "unread": 0, "moved": False}
        await assert_nothing_more(ca)  # nothing moved: nobody is told
        await assert_nothing_more(cb)


async def test_the_sender_of_a_read_frame_is_the_session_user_whatever_it_says(
    make_user: MakeUser,
) -> None:
    a, b = await make_user(), await make_user()
    async with a.api.connect(features="reads") as ca, b.api.connect(features="reads") as cb:
        await welcome(ca)
        await welcome(cb)
        m = await send_acked(cb, a.uuid, "hi")
        await send_acked(ca, b.uuid, "hi back")
        forged = Message(type=FrameType.READ, to=a.uuid, messageType=1, id=m)
        setattr(forged, "from", b.uuid)  # a claims to be b, reading the conversation with a
        await ca.send(forged)
        got = await next_of_type(ca, FrameType.ERROR)
        # the conversation is a's own with `to` = a: notes to self, holding no message <= m
        assert got.code == 404
    assert (await entry(b, a.uuid))["readId"] == 0  # b's position was not touched


async def test_refusals_over_the_socket(make_user: MakeUser) -> None:
    a, b, outsider = await make_user(), await make_user(), await make_user()
    group = await make_group(a, "closed", b)
    async with a.api.connect(features="reads") as ca, outsider.api.connect(features="reads") as co:
        await welcome(ca)
        await welcome(co)
        in_group = await send_acked(ca, group, "members only", group=True)
        to_b = await send_acked(ca, b.uuid, "private")
        cases: list[tuple[Message, int]] = [
            # not a member: the group's position is not theirs to set
            (Message(type=FrameType.READ, to=group, messageType=2, id=in_group), 403),
            # a message of a and b: no message of outsider's conversation with a is <= it
            (Message(type=FrameType.READ, to=a.uuid, messageType=1, id=to_b), 404),
            (Message(type=FrameType.READ, to="no-such-user", messageType=1, id=to_b), 404),
            (Message(type=FrameType.READ, to=a.uuid, messageType=3, id=to_b), 400),
            (Message(type=FrameType.READ, to=a.uuid, messageType=1, id=0), 400),
            (Message(type=FrameType.READ, messageType=1, id=to_b), 400),
            # sent by the server only: never relayed to `to` as if a's own device said it
            (Message(type=FrameType.MUTE, to=a.uuid, messageType=1, muted=True), 400),
        ]
        for frame, code in cases:
            await co.send(frame)
            error = await next_of_type(co, FrameType.ERROR)
            assert error.code == code, (frame, error.content)
        await assert_nothing_more(ca)  # nobody heard of a read
    assert (await entry(a, group))["unread"] == 0


async def test_refusals_over_http(make_user: MakeUser) -> None:
    a, b, outsider = await make_user(), await make_user(), await make_user()
    group = await make_group(a, "closed-http", b)
    async with a.api.connect(features="reads") as ca:
        await welcome(ca)
        in_group = await send_acked(ca, group, "members only", group=True)
        to_b = await send_acked(ca, b.uuid, "private")
    path = f"/conversations/group/{group}"
    await refused(outsider, "PUT", f"{path}/read", 403, json={"id": in_group})
    await refused(outsider, "PUT", f"{path}/mute", 403, json={"muted": True})
    await refused(outsider, "PUT", f"/conversations/user/{a.uuid}/read", 404, json={"id": to_b})
    await refused(outsider, "PUT", "/conversations/user/nobody/read", 404, json={"id": to_b})
    await refused(outsider, "PUT", f"/conversations/people/{a.uuid}/read", 404, json={"id": 1})
    for bad in ({"id": "7"}, {"id": True}, {}, {"id": 0}):
        await refused(a, "PUT", f"/conversations/user/{b.uuid}/read", 400, json=bad)
    await refused(a, "PUT", f"/conversations/user/{b.uuid}/mute", 400, json={"muted": 1})
    await refused(a, "PUT", "/settings", 400, json={"readReceipts": "no"})
    await refused(a, "GET", "/conversations", 400, params={"limit": "0"})
    await refused(a, "GET", "/conversations", 400, params={"before": "garbage"})
    # "seen by": for the message's conversation only
    await refused(outsider, "GET", f"/message/{to_b}/seen", 403)
    await refused(outsider, "GET", f"/message/{in_group}/seen", 403)
    await refused(outsider, "GET", f"/message/{to_b + 1000}/seen", 404)
    await refused(outsider, "GET", f"{path}/reads", 403)
    anonymous = ChatClient(a.api.base_url)
    try:
        for method, route in (("GET", "/conversations"), ("GET", "/settings"),
                              ("GET", f"/message/{to_b}/seen")):
            with pytest.raises(ApiError) as error:
                await anonymous.request(method, route)
            assert error.value.status == 401
    finally:
        await anonymous.http.aclose()


async def test_group_seen_by_counts_members_who_read_and_share(make_user: MakeUser) -> None:
    a, b, c, d = [await make_user() for _ in range(4)]
    group = await make_group(a, "seen", b, c, d)
    async with (
        a.api.connect(features="reads") as ca,
        b.api.connect(features="reads") as cb,
        c.api.connect(features="reads") as cc,
    ):
        for conn in (ca, cb, cc):
            await welcome(conn)
        m = await send_acked(ca, group, "did you see this", group=True)
        assert (await a.api.request("GET", f"/message/{m}/seen"))["count"] == 0
        await read_over_socket(cb, group, m, kind=2)
        own = await next_of_type(cb, FrameType.READ)
        assert (own.to, own.messageType, own.id, own.unread) == (group, 2, m, 0)
        seen = await a.api.request("GET", f"/message/{m}/seen")
        assert (seen["id"], seen["count"], [u["uuid"] for u in seen["users"]]) == (m, 1, [b.uuid])
        await c.api.request("PUT", "/settings", json={"readReceipts": False})
        await c.api.request("PUT", f"/conversations/group/{group}/read", json={"id": m})
        # c read it but shares nothing: not counted, and c sees nobody's
        assert (await a.api.request("GET", f"/message/{m}/seen"))["count"] == 1
        msg = await refused(c, "GET", f"/message/{m}/seen", 403)
        assert "read receipts are off" in msg
        # a member who is not the sender may ask too; the sender is never counted
        await a.api.request("PUT", f"/conversations/group/{group}/read", json={"id": m})
        assert (await d.api.request("GET", f"/message/{m}/seen"))["count"] == 1
        own = await next_of_type(ca, FrameType.READ)
        assert (getattr(own, "from"), own.to, own.id) == (a.uuid, group, m)  # a's own
        # every member's position at once (those who share and have one), for "seen by N"
        reads = await d.api.request("GET", f"/conversations/group/{group}/reads")
        assert sorted((i["user"]["uuid"], i["readId"]) for i in reads["items"]) == sorted(
            [(a.uuid, m), (b.uuid, m)]
        )
        await refused(c, "GET", f"/conversations/group/{group}/reads", 403)  # receipts off
        assert getattr(await next_of_type(cc, FrameType.READ), "from") == c.uuid
        # others' group positions are asked for, not pushed
        for conn in (ca, cb, cc):
            await assert_nothing_more(conn)


async def test_receipts_off_hides_positions_both_ways(make_user: MakeUser) -> None:
    a, b = await make_user(), await make_user()
    assert await b.api.request("GET", "/settings") == {"readReceipts": True}
    assert await b.api.request("PUT", "/settings", json={"readReceipts": False}) == {
        "readReceipts": False
    }
    assert await b.api.request("GET", "/settings") == {"readReceipts": False}
    async with a.api.connect(features="reads") as ca, b.api.connect(features="reads") as cb:
        await welcome(ca)
        await welcome(cb)
        from_a = await send_acked(ca, b.uuid, "to b")
        from_b = await send_acked(cb, a.uuid, "to a")
        await read_over_socket(cb, a.uuid, from_a)  # b reads: a must not learn it
        assert (await next_of_type(cb, FrameType.READ)).id == from_a  # b's own devices do
        await read_over_socket(ca, b.uuid, from_b)  # a reads: b must not see it either
        assert (await next_of_type(ca, FrameType.READ)).id == from_b
        await assert_nothing_more(ca)
        await assert_nothing_more(cb)
        assert (await entry(a, b.uuid))["peerReadId"] is None
        assert (await entry(b, a.uuid))["peerReadId"] is None
        assert (await a.api.request("GET", f"/message/{from_a}/seen"))["count"] == 0
        await refused(b, "GET", f"/message/{from_b}/seen", 403)
        await b.api.request("PUT", "/settings", json={"readReceipts": True})
        assert (await entry(a, b.uuid))["peerReadId"] == from_a
        assert (await entry(b, a.uuid))["peerReadId"] == from_b
        reads = await a.api.request("GET", f"/conversations/user/{b.uuid}/reads")
        assert [(i["user"]["uuid"], i["readId"]) for i in reads["items"]] == [(b.uuid, from_a)]
        assert (await a.api.request("GET", f"/message/{from_a}/seen"))["count"] == 1


async def test_mute_is_stored_listed_and_pushed_to_the_other_devices(
    server: Server, make_user: MakeUser
) -> None:
    a, b = await make_user(), await make_user()
    group = await make_group(b, "noisy", a)
    other = await make_user_client(server, a.username, PASSWORD)
    try:
        async with other.connect(features="reads") as tablet:
            await welcome(tablet)
            answer = await a.api.request(
                "PUT", f"/conversations/group/{group}/mute", json={"muted": True}
            )
            assert answer == {"muted": True, "changed": True}
            pushed = await next_of_type(tablet, FrameType.MUTE)
            assert (getattr(pushed, "from"), pushed.to, pushed.messageType, pushed.muted) == (
                a.uuid, group, 2, True,
            )
            assert (await entry(a, group))["muted"] is True
            assert (await entry(b, group))["muted"] is False  # per user
            same = await a.api.request(
                "PUT", f"/conversations/group/{group}/mute", json={"muted": True}
            )
            assert same == {"muted": True, "changed": False}
            await a.api.request("PUT", f"/conversations/user/{b.uuid}/mute", json={"muted": True})
            assert (await next_of_type(tablet, FrameType.MUTE)).to == b.uuid
            await a.api.request("PUT", f"/conversations/group/{group}/mute", json={"muted": False})
            assert (await next_of_type(tablet, FrameType.MUTE)).muted is False
            await assert_nothing_more(tablet)
            assert (await entry(a, group))["muted"] is False
            assert (await entry(a, b.uuid))["muted"] is True
    finally:
        await other.http.aclose()


async def test_the_list_pages_newest_first_with_last_messages(make_user: MakeUser) -> None:
    me = await make_user()
    peers = [await make_user() for _ in range(3)]
    group = await make_group(peers[0], "listed", me)
    async with me.api.connect(features="reads") as conn:
        await welcome(conn)
        for peer in peers:
            await send_acked(conn, peer.uuid, f"hello {peer.username}")
        newest = await send_acked(conn, group, "latest", group=True)
    first = await conversations(me, limit=2)
    assert [c["uuid"] for c in first["items"]] == [group, peers[2].uuid]
    top = first["items"][0]
    assert (top["kind"], top["messageType"], top["group"]["uuid"], top["user"]) == (
        "group", 2, group, None,
    )
    assert (top["lastMessage"]["id"], top["lastMessage"]["content"]) == (newest, "latest")
    assert first["items"][1]["user"]["username"] == peers[2].username
    assert first["next"]
    second = await conversations(me, limit=2, before=first["next"])
    assert [c["uuid"] for c in second["items"]] == [peers[1].uuid, peers[0].uuid]
    assert second["next"] is None
    assert all(c["unread"] == 0 and c["peerReadId"] == 0 for c in second["items"])


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_read_frames_are_charged_to_the_flood_budget(
    nursery: trio.Nursery, tmp_path: Any, backend: str
) -> None:
    config = server_config(tmp_path, messages_per_second=0.01, message_burst=3)
    server = await start_server(nursery, config, tmp_path)
    async with ChatClient(server.url) as a_api, ChatClient(server.url) as b_api:
        await a_api.signup("floody", PASSWORD)
        b = await b_api.signup("target", PASSWORD)
        async with a_api.connect(features="reads") as conn:
            await welcome(conn)
            for _ in range(3):
                await read_over_socket(conn, b.uuid, 1)
            await read_over_socket(conn, b.uuid, 1)
            codes = [(await next_of_type(conn, FrameType.ERROR)).code for _ in range(4)]
    # three frames within the burst were looked at (no such message: 404), the fourth
    # was refused before any work
    assert codes == [404, 404, 404, 429]


async def test_read_and_mute_frames_reach_only_sessions_that_asked_for_them(
    make_user: MakeUser,
) -> None:
    """go-chat's client shows a frame of an unknown type as a message: a session that
    did not ask for ``reads`` gets no receipt, no own position and no mute."""
    a, b = await make_user(), await make_user()
    async with (
        a.api.connect() as plain_a, a.api.connect(features="reads") as new_a,
        b.api.connect() as plain_b, b.api.connect(features="reads") as new_b,
    ):
        for conn in (plain_a, new_a, plain_b, new_b):
            await welcome(conn)
        sent = await send_acked(plain_b, a.uuid, "hello")
        for conn in (plain_a, new_a):
            assert (await conn.receive_chat()).id == sent
        assert (await new_b.receive_chat()).id == sent  # the sender's other device
        await a.api.request("PUT", f"/conversations/user/{b.uuid}/read", json={"id": sent})
        await a.api.request("PUT", f"/conversations/user/{b.uuid}/mute", json={"muted": True})
        assert (await next_of_type(new_a, FrameType.READ)).id == sent
        assert (await next_of_type(new_a, FrameType.MUTE)).muted is True
        assert (await next_of_type(new_b, FrameType.READ)).id == sent  # the receipt
        await assert_nothing_more(plain_a)
        await assert_nothing_more(plain_b)
