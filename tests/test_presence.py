"""Presence over real sockets, on SQLite and MariaDB: live frames to friends and group
co-members, last seen stored when the last session ends, GET /presence.

A departure is announced after the grace period (chat_trio.presence.GRACE); the
tests wait for the frame itself, bounded, never for a guessed time. That a
reconnection within the grace period announced nothing is shown by what comes
next: the next presence frame is the later departure, not the earlier one.
"""

from __future__ import annotations

import time

import pytest
import trio

from chat_trio.client import ApiError, Connection, Message
from chat_trio.presence import GRACE, PRESENCE
from tests.conftest import MakeUser, User, befriend, make_group
from tests.test_socket import assert_nothing_more, welcome

#: Bound on waiting for one presence frame: the grace period and then some.
WAIT = GRACE + 10


async def presence_frame(conn: Connection) -> Message:
    with trio.fail_after(WAIT):
        while True:
            message = await conn.receive()
            if message.type == PRESENCE:
                return message


def now_ms() -> int:
    return time.time_ns() // 1_000_000


async def listing(user: User, **params: str) -> dict[str, dict[str, object]]:
    items = await user.api.request("GET", "/presence", params=params)
    return {str(item["uuid"]): item for item in items}


async def test_friends_and_co_members_see_arrivals_departures_and_last_seen(
    make_user: MakeUser,
) -> None:
    alice, friend, member, stranger = [await make_user() for _ in range(4)]
    await befriend(alice, friend)
    group = await make_group(member, "presence", alice)
    async with (
        friend.api.connect(features="presence") as cf,
        friend.api.connect() as old_client,  # did not ask: go-chat's client, say
        member.api.connect(features="presence,typing,unknown") as cm,
        stranger.api.connect(features="presence") as cs,
    ):
        for conn in (cf, old_client, cm, cs):
            await welcome(conn)
        before = await listing(friend)
        assert before[alice.uuid] == {"uuid": alice.uuid, "online": False, "lastSeen": None}
        async with alice.api.connect(features="presence") as ca:
            await welcome(ca)
            for watcher in (cf, cm):
                arrived = await presence_frame(watcher)
                assert (getattr(arrived, "from"), arrived.content, arrived.lastSeen) == (
                    alice.uuid, "online", 0,
                )
            await assert_nothing_more(cs)  # not a friend, no group in common
            await assert_nothing_more(old_client)
            assert (await listing(friend))[alice.uuid]["online"] is True
            # alice sees her friend and her co-member, never the stranger
            assert set(await listing(alice)) == {friend.uuid, member.uuid}
            left_at = now_ms()
        for watcher in (cf, cm):
            left = await presence_frame(watcher)
            assert (getattr(left, "from"), left.content) == (alice.uuid, "offline")
            assert left_at - 1000 <= left.lastSeen <= now_ms()
        await assert_nothing_more(cs)
        after = await listing(member)
        assert after[alice.uuid] == {"uuid": alice.uuid, "online": False, "lastSeen": left.lastSeen}
        members = await listing(member, group=group)
        assert members[alice.uuid]["lastSeen"] == left.lastSeen
        with pytest.raises(ApiError) as refused:
            await listing(stranger, group=group)
        assert refused.value.status == 403
        with pytest.raises(ApiError) as missing:
            await listing(member, group="no-such-group")
        assert missing.value.status == 404


async def test_a_reconnection_within_the_grace_period_is_not_a_departure(
    make_user: MakeUser,
) -> None:
    alice, friend = await make_user(), await make_user()
    await befriend(alice, friend)
    async with friend.api.connect(features="presence") as cf:
        await welcome(cf)
        async with alice.api.connect(features="presence") as first:
            await welcome(first)
            assert (await presence_frame(cf)).content == "online"
        async with alice.api.connect(features="presence") as again:  # a reload
            await welcome(again)
            second_close = now_ms()
        left = await presence_frame(cf)
        assert left.content == "offline" and left.lastSeen >= second_close


async def test_a_logout_is_a_departure(make_user: MakeUser) -> None:
    alice, friend = await make_user(), await make_user()
    await befriend(alice, friend)
    async with (
        friend.api.connect(features="presence") as cf,
        alice.api.connect(features="presence") as ca,
    ):
        await welcome(cf)
        await welcome(ca)
        assert (await presence_frame(cf)).content == "online"
        await alice.api.request("POST", "/user/logout")
        left = await presence_frame(cf)
    assert left.content == "offline"
    assert (await listing(friend))[alice.uuid]["lastSeen"] == left.lastSeen
