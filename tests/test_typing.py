"""Typing indicators over real sockets: relayed to the conversation only, rate-limited
per session and conversation, never stored, charged to the flood budget.

A frame the server dropped is shown by the next one: the frame sent after it
takes the same path, so it is what arrives next.
"""

from __future__ import annotations

import pytest
import trio

from chat_trio.client import Connection, Message
from chat_trio.intake import typing as typing_mod
from chat_trio.model import FrameType
from tests.conftest import MakeUser, make_group
from tests.test_socket import assert_nothing_more, next_of_type, welcome

TYPING = typing_mod.TYPING


def typing(to: str, content: str = "", *, group: bool = False) -> Message:
    return Message(type=TYPING, to=to, content=content, messageType=2 if group else 1)


async def next_typing(conn: Connection) -> Message:
    with trio.fail_after(10):
        while True:
            message = await conn.receive()
            if message.type == TYPING:
                return message


async def test_one_to_one_typing_reaches_the_peer_once_per_interval(
    make_user: MakeUser,
) -> None:
    a, b = await make_user(), await make_user()
    async with (
        a.api.connect(features="typing") as ca,
        a.api.connect(features="typing") as a2,
        b.api.connect(features="typing") as cb,
        b.api.connect() as b_old,  # did not ask for typing frames
    ):
        for conn in (ca, a2, cb, b_old):
            await welcome(conn)
        await ca.send(typing(b.uuid))
        got = await next_typing(cb)
        assert (got.content, getattr(got, "from"), got.to, got.fromUsername, got.messageType) == (
            "start", a.uuid, b.uuid, a.username, 1,
        )
        await ca.send(typing(b.uuid, "start"))  # a keystroke later: dropped
        await ca.send(typing(b.uuid, "stop"))
        assert (await next_typing(cb)).content == "stop"
        await ca.send(typing(b.uuid, "stop"))  # said already: dropped
        await ca.send_text(b.uuid, "sent")
        await next_of_type(ca, FrameType.ACK)
        assert (await cb.receive_chat()).content == "sent"
        await assert_nothing_more(cb)
        assert (await a2.receive_chat()).content == "sent"  # own devices get no typing
        await assert_nothing_more(a2)
        assert (await b_old.receive()).content == "sent"  # the message, and nothing before
        await assert_nothing_more(b_old)
    history = await b.api.request(
        "GET", "/message", params={"Uuid": b.uuid, "MessageType": 1, "FriendUsername": a.username}
    )
    assert [m["content"] for m in history] == ["sent"]  # typing is never stored


async def test_a_start_goes_out_again_after_the_interval(
    make_user: MakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(typing_mod, "INTERVAL", 0.2)
    a, b = await make_user(), await make_user()
    async with a.api.connect(features="typing") as ca, b.api.connect(features="typing") as cb:
        await welcome(ca)
        await welcome(cb)
        await ca.send(typing(b.uuid))
        await next_typing(cb)
        await trio.sleep(0.25)  # past the interval (the rule is about time itself)
        await ca.send(typing(b.uuid))
        assert (await next_typing(cb)).content == "start"


async def test_group_typing_reaches_the_other_members_only(make_user: MakeUser) -> None:
    a, b, c, outsider = [await make_user() for _ in range(4)]
    group = await make_group(a, "typists", b, c)
    async with (
        a.api.connect(features="typing") as ca,
        b.api.connect(features="typing") as cb,
        c.api.connect(features="typing") as cc,
        outsider.api.connect(features="typing") as co,
    ):
        for conn in (ca, cb, cc, co):
            await welcome(conn)
        await ca.send(typing(group, group=True))
        for member in (cb, cc):
            got = await next_typing(member)
            assert (getattr(got, "from"), got.to, got.fromUsername, got.messageType) == (
                group, a.uuid, a.username, 2,
            )
        await assert_nothing_more(ca)
        await assert_nothing_more(co)
        await co.send(typing(group, group=True))
        refused = await next_of_type(co, FrameType.ERROR)
        assert refused.code == 403
        for bad, code in ((typing("no-such-user"), 404), (typing(b.uuid, "loud"), 400),
                          (typing(""), 403)):
            await ca.send(bad)
            assert (await next_of_type(ca, FrameType.ERROR)).code == code


@pytest.mark.parametrize(
    "server_limits", [{"messages_per_second": 0.01, "message_burst": 3}]
)
async def test_typing_frames_count_against_the_flood_budget(make_user: MakeUser) -> None:
    a, b = await make_user(), await make_user()
    async with a.api.connect(features="typing") as ca:
        await welcome(ca)
        for _ in range(3):
            await ca.send(typing(b.uuid))
        await ca.send(typing(b.uuid))
        refused = await next_of_type(ca, FrameType.ERROR)
        assert refused.code == 429
