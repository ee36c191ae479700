"""Friend requests, friendships and blocks over HTTP, pushed live over real sockets.

Every test runs on SQLite and on MariaDB (the ``server`` fixture). Pushes are
read from real WebSocket connections on 127.0.0.1; every wait is bounded.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio

from chat_trio.api.friends import REQUESTS_PER_MINUTE
from chat_trio.client import ApiError, ChatClient, Connection, Message
from chat_trio.model import ContentType, FrameType, MessageType
from tests.conftest import PASSWORD, MakeUser, Server, User, befriend, make_group
from tests.test_http_api import make_user_client
from tests.test_socket import next_of_type, welcome


@pytest.fixture
def server_limits() -> dict[str, object]:
    """Room for the users the request limit's test registers from one address."""
    return {"registrations_per_hour_per_address": 1000}


async def friend_frame(conn: Connection) -> Message:
    """The next ``friend`` push on ``conn`` (other frames are skipped)."""
    return await next_of_type(conn, FrameType.FRIEND)


def event(frame: Message) -> tuple[str, str, str]:
    return frame.friendEvent, frame.peer, frame.actor


@asynccontextmanager
async def devices(user: User, server: Server, count: int = 1) -> AsyncIterator[list[Connection]]:
    """``count`` live sessions of ``user``: the first on its own client, the others
    on logins of their own (other devices). Each has had its welcome."""
    extra: list[ChatClient] = []
    try:
        for _ in range(count - 1):
            extra.append(await make_user_client(server, user.username, PASSWORD))
        async with (
            user.api.connect() as first,
            _connected(extra) as others,
        ):
            conns = [first, *others]
            for conn in conns:
                await welcome(conn)
            yield conns
    finally:
        for api in extra:
            await api.http.aclose()


@asynccontextmanager
async def _connected(apis: list[ChatClient]) -> AsyncIterator[list[Connection]]:
    if not apis:
        yield []
        return
    async with apis[0].connect() as conn, _connected(apis[1:]) as rest:
        yield [conn, *rest]


async def refused(user: User, method: str, path: str, **kwargs: object) -> tuple[int, str]:
    with pytest.raises(ApiError) as caught:
        await user.api.request(method, path, **kwargs)
    return caught.value.status, caught.value.msg


async def test_request_and_accept_reach_every_device_of_both(
    server: Server, make_user: MakeUser
) -> None:
    a, b = await make_user(), await make_user()
    async with devices(a, server, 2) as a_conns, devices(b, server, 2) as b_conns:
        sent = await a.api.request("POST", "/friend/requests", json={"uuid": b.uuid})
        assert sent["status"] == "requested" and sent["user"]["uuid"] == b.uuid
        for conn in b_conns:
            frame = await friend_frame(conn)
            assert event(frame) == ("request", a.uuid, a.uuid)
            assert getattr(frame, "from") == "System" and frame.to == b.uuid
            assert json.loads(frame.content)["username"] == a.username
            assert frame.createAt > 0
        for conn in a_conns:  # the actor's devices, the one that asked included
            assert event(await friend_frame(conn)) == ("request", b.uuid, a.uuid)
        lists = await b.api.request("GET", "/friend/requests")
        assert [r["user"]["uuid"] for r in lists["incoming"]] == [a.uuid]
        assert lists["outgoing"] == [] and lists["incoming"][0]["createAt"]
        assert lists["incoming"][0]["user"]["email"] == ""  # private to its owner
        mine = await a.api.request("GET", "/friend/requests")
        assert [r["user"]["uuid"] for r in mine["outgoing"]] == [b.uuid]
        assert await a.api.request("GET", "/user", params={"uuid": a.uuid}) == []

        accepted = await b.api.request("POST", f"/friend/requests/{a.uuid}/accept")
        assert accepted["status"] == "friends"
        for conn in a_conns:
            assert event(await friend_frame(conn)) == ("accept", b.uuid, b.uuid)
        for conn in b_conns:
            assert event(await friend_frame(conn)) == ("accept", a.uuid, b.uuid)
    for me, other in ((a, b), (b, a)):
        friends = await me.api.request("GET", "/user", params={"uuid": me.uuid})
        assert [f["uuid"] for f in friends] == [other.uuid]
        assert await me.api.request("GET", "/friend/requests") == {"incoming": [], "outgoing": []}


async def test_decline_cancel_and_remove_are_pushed(server: Server, make_user: MakeUser) -> None:
    a, b = await make_user(), await make_user()
    async with devices(a, server) as (ca,), devices(b, server) as (cb,):
        await a.api.request("POST", "/friend/requests", json={"username": b.username})
        await friend_frame(ca)
        await friend_frame(cb)
        await b.api.request("POST", f"/friend/requests/{a.uuid}/decline")
        assert event(await friend_frame(ca)) == ("decline", b.uuid, b.uuid)
        assert event(await friend_frame(cb)) == ("decline", a.uuid, b.uuid)
        # a declined sender may ask again, and withdraw it
        await a.api.request("POST", "/friend/requests", json={"uuid": b.uuid})
        await friend_frame(ca)
        await friend_frame(cb)
        await a.api.request("DELETE", f"/friend/requests/{b.uuid}")
        assert event(await friend_frame(ca)) == ("cancel", b.uuid, a.uuid)
        assert event(await friend_frame(cb)) == ("cancel", a.uuid, a.uuid)
        assert await b.api.request("GET", "/friend/requests") == {"incoming": [], "outgoing": []}
        # asking back accepts
        await a.api.request("POST", "/friend/requests", json={"uuid": b.uuid})
        await friend_frame(ca)
        await friend_frame(cb)
        back = await b.api.request("POST", "/friend/requests", json={"uuid": a.uuid})
        assert back["status"] == "friends"
        assert event(await friend_frame(ca)) == ("accept", b.uuid, b.uuid)
        assert event(await friend_frame(cb)) == ("accept", a.uuid, b.uuid)
        await b.api.request("DELETE", f"/friend/{a.uuid}")
        assert event(await friend_frame(ca)) == ("remove", b.uuid, b.uuid)
        assert event(await friend_frame(cb)) == ("remove", a.uuid, b.uuid)
    assert await a.api.request("GET", "/user", params={"uuid": a.uuid}) == []
    assert await b.api.request("GET", "/user", params={"uuid": b.uuid}) == []


async def test_every_bad_request_gets_a_clear_error(make_user: MakeUser) -> None:
    a, b, c = await make_user(), await make_user(), await make_user()
    nobody = "00000000-0000-0000-0000-000000000000"
    await a.api.request("POST", "/friend/requests", json={"uuid": b.uuid})
    cases: list[tuple[User, str, str, dict[str, object], int, str]] = [
        (a, "POST", "/friend/requests", {"json": {"uuid": nobody}}, 404, "no such user"),
        (a, "POST", "/friend/requests", {"json": {"username": "nobody-x"}}, 404, "no such user"),
        (a, "POST", "/friend/requests", {"json": {}}, 400, "`uuid` or `username` is required"),
        (a, "POST", "/friend/requests", {"json": {"uuid": 5}}, 400, "must be a string"),
        (a, "POST", "/friend/requests", {"json": {"uuid": a.uuid}}, 400, "yourself"),
        (a, "POST", "/friend/requests", {"json": {"uuid": b.uuid}}, 409, "already sent"),
        # the sender cannot accept or decline its own request
        (a, "POST", f"/friend/requests/{b.uuid}/accept", {}, 403, "only the other user"),
        (a, "POST", f"/friend/requests/{b.uuid}/decline", {}, 403, "cancel it instead"),
        # the receiver cannot cancel it
        (b, "DELETE", f"/friend/requests/{a.uuid}", {}, 403, "decline it instead"),
        # nobody else can act on it
        (c, "POST", f"/friend/requests/{a.uuid}/accept", {}, 404, "has not sent you"),
        (c, "POST", f"/friend/requests/{a.uuid}/decline", {}, 404, "has not sent you"),
        (c, "DELETE", f"/friend/requests/{b.uuid}", {}, 404, "you have not sent"),
        (a, "POST", f"/friend/requests/{nobody}/accept", {}, 404, "no such user"),
        (a, "POST", f"/friend/requests/{a.uuid}/accept", {}, 400, "yourself"),
        (a, "DELETE", f"/friend/{c.uuid}", {}, 404, "not friends"),
        (a, "DELETE", f"/friend/{nobody}", {}, 404, "no such user"),
        (a, "POST", f"/block/{a.uuid}", {}, 400, "yourself"),
        (a, "POST", f"/block/{nobody}", {}, 404, "no such user"),
        (a, "DELETE", f"/block/{c.uuid}", {}, 404, "not blocked"),
    ]
    for user, method, path, kwargs, status, reason in cases:
        got = await refused(user, method, path, **kwargs)
        assert got[0] == status and reason in got[1], (method, path, kwargs, got)
    # nothing changed on the way
    assert [r["user"]["uuid"] for r in (await b.api.request("GET", "/friend/requests"))[
        "incoming"
    ]] == [a.uuid]
    await b.api.request("POST", f"/friend/requests/{a.uuid}/accept")
    assert (await refused(a, "POST", "/friend/requests", json={"uuid": b.uuid})) == (
        409, "you are already friends",
    )
    assert (await refused(b, "POST", f"/friend/requests/{a.uuid}/accept"))[0] == 404


async def test_routes_need_a_login(server: Server) -> None:
    async with ChatClient(server.url) as anonymous:
        for method, path in [
            ("GET", "/friend/requests"), ("POST", "/friend/requests"),
            ("GET", "/block"), ("GET", "/search?q=a"),
            ("DELETE", "/friend/requests/x"), ("POST", "/block/x"),
        ]:
            with pytest.raises(ApiError) as caught:
                await anonymous.request(method, path, json={})
            assert caught.value.status == 401, (method, path)


async def test_go_chats_add_friend_asks_then_accepts(server: Server, make_user: MakeUser) -> None:
    a, b = await make_user(), await make_user()
    async with devices(a, server) as (ca,), devices(b, server) as (cb,):
        await a.api.request("POST", "/friend", json={"uuid": a.uuid, "friendUsername": b.username})
        assert event(await friend_frame(cb)) == ("request", a.uuid, a.uuid)
        await friend_frame(ca)
        assert await a.api.request("GET", "/user", params={"uuid": a.uuid}) == []
        assert (await refused(
            a, "POST", "/friend", json={"uuid": a.uuid, "friendUsername": b.username}
        ))[0] == 409
        await b.api.request("POST", "/friend", json={"uuid": b.uuid, "friendUsername": a.username})
        assert event(await friend_frame(ca)) == ("accept", b.uuid, b.uuid)
        assert event(await friend_frame(cb)) == ("accept", a.uuid, b.uuid)
    friends = await a.api.request("GET", "/user", params={"uuid": a.uuid})
    assert [f["uuid"] for f in friends] == [b.uuid]


async def chat_refused(conn: Connection, to: str, reason: str) -> None:
    await conn.send_text(to, "hello?", client_id="blocked-1")
    error = await next_of_type(conn, FrameType.ERROR)
    assert (error.code, error.clientId) == (403, "blocked-1") and reason in error.content


async def call_refused(conn: Connection, to: str, reason: str) -> None:
    offer = json.dumps({"type": "offer", "sdp": "v=0"})
    await conn.send(Message(to=to, type=FrameType.WEBRTC, content=offer, messageType=1))
    error = await next_of_type(conn, FrameType.ERROR)
    assert error.code == 403 and reason in error.content
    await conn.send(Message(to=to, contentType=ContentType.VIDEO_DIAL, messageType=1))
    error = await next_of_type(conn, FrameType.ERROR)
    assert error.code == 403 and reason in error.content


async def test_a_block_stops_messages_calls_and_requests_both_ways(
    server: Server, make_user: MakeUser
) -> None:
    a, b = await make_user(), await make_user()
    await befriend(a, b)
    async with devices(a, server, 2) as a_conns, devices(b, server) as (cb,):
        await a.api.request("POST", f"/block/{b.uuid}")
        for conn in a_conns:
            assert event(await friend_frame(conn)) == ("block", b.uuid, a.uuid)
        # the blocked user learns only that the friendship ended
        assert event(await friend_frame(cb)) == ("remove", a.uuid, a.uuid)
        await chat_refused(cb, a.uuid, "does not accept a message from you")
        await chat_refused(a_conns[0], b.uuid, "you blocked this user")
        await call_refused(cb, a.uuid, "does not accept a call from you")
        await call_refused(a_conns[0], b.uuid, "you blocked this user")
        assert await refused(b, "POST", "/friend/requests", json={"uuid": a.uuid}) == (
            403, "this user does not accept friend requests from you",
        )
        assert (await refused(
            b, "POST", "/friend", json={"uuid": b.uuid, "friendUsername": a.username}
        ))[0] == 403
        assert (await refused(a, "POST", "/friend/requests", json={"uuid": b.uuid}))[0] == 403
        assert (await refused(a, "POST", f"/block/{b.uuid}"))[0] == 409
        blocked = await a.api.request("GET", "/block")
        assert [u["uuid"] for u in blocked] == [b.uuid]
        assert await b.api.request("GET", "/block") == []
        for me in (a, b):
            assert await me.api.request("GET", "/user", params={"uuid": me.uuid}) == []

        await a.api.request("DELETE", f"/block/{b.uuid}")
        for conn in a_conns:
            assert event(await friend_frame(conn)) == ("unblock", b.uuid, a.uuid)
        await cb.send_text(a.uuid, "after the unblock")
        for conn in a_conns:
            with trio.fail_after(10):
                assert (await conn.receive_chat()).content == "after the unblock"
    assert await a.api.request("GET", "/block") == []


async def test_a_block_ends_pending_requests_as_declined_or_cancelled(
    server: Server, make_user: MakeUser
) -> None:
    a, b, c = await make_user(), await make_user(), await make_user()
    await b.api.request("POST", "/friend/requests", json={"uuid": a.uuid})  # b asked a
    await a.api.request("POST", "/friend/requests", json={"uuid": c.uuid})  # a asked c
    async with devices(b, server) as (cb,), devices(c, server) as (cc,):
        await a.api.request("POST", f"/block/{b.uuid}")
        assert event(await friend_frame(cb)) == ("decline", a.uuid, a.uuid)
        await a.api.request("POST", f"/block/{c.uuid}")
        assert event(await friend_frame(cc)) == ("cancel", a.uuid, a.uuid)
    assert await a.api.request("GET", "/friend/requests") == {"incoming": [], "outgoing": []}


async def test_a_block_leaves_shared_groups_alone(server: Server, make_user: MakeUser) -> None:
    a, b = await make_user(), await make_user()
    group = await make_group(a, "shared-room", b)
    await a.api.request("POST", f"/block/{b.uuid}")
    async with devices(a, server) as (ca,), devices(b, server) as (cb,):
        await cb.send_text(group, "to the whole group", group=True)
        with trio.fail_after(10):
            got = await ca.receive_chat()
        assert (got.content, got.fromUsername, got.messageType) == (
            "to the whole group", b.username, MessageType.GROUP,
        )


async def test_clients_cannot_send_friend_frames(server: Server, make_user: MakeUser) -> None:
    a, b = await make_user(), await make_user()
    async with devices(a, server) as (ca,), devices(b, server) as (cb,):
        await ca.send(Message(to=b.uuid, type=FrameType.FRIEND, friendEvent="accept"))
        error = await next_of_type(ca, FrameType.ERROR)
        assert error.code == 400 and "sent by the server only" in error.content
        await ca.send_text(b.uuid, "marker")
        with trio.fail_after(10):
            assert (await cb.receive_chat()).content == "marker"  # nothing came before it


async def test_search_ranks_people_and_groups_with_their_relation(make_user: MakeUser) -> None:
    me = await make_user("searcher")
    exact = await make_user("kim")
    prefix = await make_user("kimberly")
    inside = await make_user("akima")
    friend = await make_user("kimfriend")
    await befriend(me, friend)
    await me.api.request("POST", "/friend/requests", json={"uuid": prefix.uuid})
    await inside.api.request("POST", "/friend/requests", json={"uuid": me.uuid})
    await me.api.request("POST", f"/block/{exact.uuid}")
    await make_group(inside, "kim-club", me)
    await make_group(inside, "the kim fans")
    found = await me.api.request("GET", "/search", params={"q": "KIM"})
    assert [(u["username"], u["relation"]) for u in found["users"]] == [
        ("kim", "blocked"), ("kimberly", "outgoing"), ("kimfriend", "friend"),
        ("akima", "incoming"),
    ]
    assert all(u["email"] == "" for u in found["users"])
    assert [(g["name"], g["member"]) for g in found["groups"]] == [
        ("kim-club", True), ("the kim fans", False),
    ]
    # capped, and the caller is never among the users
    capped = await me.api.request("GET", "/search", params={"q": "kim", "limit": 2})
    assert [u["username"] for u in capped["users"]] == ["kim", "kimberly"]
    assert len(capped["groups"]) == 2
    mine = await me.api.request("GET", "/search", params={"q": "searcher"})
    assert mine["users"] == []
    # nickname matches; LIKE wildcards in the query are literal
    await me.api.request("PUT", "/user", json={"nickname": "Quincy 100%"})
    other = await make_user()
    by_nick = await other.api.request("GET", "/search", params={"q": "0%"})
    assert [u["uuid"] for u in by_nick["users"]] == [me.uuid]
    assert (await other.api.request("GET", "/search", params={"q": "_"}))["users"] == []


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({}, "`q` is required"),
        ({"q": "  "}, "`q` is required"),
        ({"q": "x" * 65}, "longer than 64"),
        ({"q": "a\x01"}, "control characters"),
        ({"q": "a", "limit": "many"}, "must be an integer"),
        ({"q": "a", "limit": "0"}, "between 1 and 50"),
        ({"q": "a", "limit": "51"}, "between 1 and 50"),
    ],
)
async def test_search_refuses_bad_input(
    make_user: MakeUser, params: dict[str, str], reason: str
) -> None:
    me = await make_user()
    status, msg = await refused(me, "GET", "/search", params=params)
    assert status == 400 and reason in msg


async def test_find_by_name_falls_back_to_the_best_partial_match(make_user: MakeUser) -> None:
    me = await make_user("looker")
    await make_user("robert")
    bob = await make_user("bob")
    await make_user("bobby")
    group = await make_group(bob, "bobsleigh")
    found = await me.api.request("GET", "/user/name", params={"name": "bob"})
    assert found["user"]["uuid"] == bob.uuid  # exact first
    assert found["group"]["uuid"] == group  # no group "bob": the best partial one
    partial = await me.api.request("GET", "/user/name", params={"name": "ober"})
    assert partial["user"]["username"] == "robert"
    assert partial["group"]["name"] == ""
    nothing = await me.api.request("GET", "/user/name", params={"name": "zzz"})
    assert nothing["user"]["username"] == "" and nothing["group"]["uuid"] == ""
    # never the caller itself
    assert (await me.api.request("GET", "/user/name", params={"name": "looke"}))["user"][
        "username"
    ] == ""


async def test_new_requests_are_limited_but_asking_back_is_not(
    server: Server, make_user: MakeUser
) -> None:
    me = await make_user()
    others = [await make_user() for _ in range(REQUESTS_PER_MINUTE + 1)]
    asker = await make_user()
    await asker.api.request("POST", "/friend/requests", json={"uuid": me.uuid})
    for other in others[:-2]:
        await me.api.request("POST", "/friend/requests", json={"uuid": other.uuid})
    # a refused attempt (a duplicate) costs nothing: one more new request fits
    assert (await refused(me, "POST", "/friend/requests", json={"uuid": others[0].uuid}))[0] == 409
    await me.api.request("POST", "/friend/requests", json={"uuid": others[-2].uuid})
    async with ChatClient(server.url) as raw:
        raw.http.headers["Authorization"] = f"Bearer {me.me.token}"
        over = await raw.http.post("/friend/requests", json={"uuid": others[-1].uuid})
    assert over.status_code == 429
    assert f"at most {REQUESTS_PER_MINUTE} a minute" in over.json()["msg"]
    assert int(over.headers["Retry-After"]) >= 1
    assert (await refused(
        me, "POST", "/friend", json={"uuid": me.uuid, "friendUsername": others[-1].username}
    ))[0] == 429
    # asking back accepts, limit or not (by both routes)
    back = await me.api.request("POST", "/friend/requests", json={"uuid": asker.uuid})
    assert back["status"] == "friends"
    outgoing = (await me.api.request("GET", "/friend/requests"))["outgoing"]
    assert len(outgoing) == REQUESTS_PER_MINUTE
