"""4-byte UTF-8 end to end, on both backends: go-chat's utf8 tables lost such messages."""

from __future__ import annotations

from chat_trio.model import FrameType
from tests.conftest import MakeUser, befriend
from tests.test_socket import next_of_type, welcome

#: Outside the Basic Multilingual Plane: four bytes each in UTF-8.
TEXT = "𝄞 😀 🀄 👩‍💻 𠜎"


async def test_four_byte_message_delivered_and_read_back_identical(make_user: MakeUser) -> None:
    a, b = await make_user(), await make_user()
    await befriend(a, b)
    assert all(len(ch.encode()) == 4 for ch in "𝄞😀🀄𠜎")
    async with a.api.connect() as ca, b.api.connect() as cb:
        await welcome(ca)
        await welcome(cb)
        cid = await ca.send_text(b.uuid, TEXT)
        ack = await next_of_type(ca, FrameType.ACK)
        got = await cb.receive()
    assert ack.clientId == cid
    assert (got.id, got.content) == (ack.id, TEXT)
    history = await b.api.request(
        "GET", "/message", params={"Uuid": b.uuid, "MessageType": 1, "FriendUsername": a.username}
    )
    assert [(m["id"], m["content"]) for m in history] == [(ack.id, TEXT)]
    assert history[0]["content"].encode() == TEXT.encode()
