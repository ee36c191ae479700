"""Frames the intake refuses with 400, each with its reason, the session living on
(SQLite and MariaDB): a clientId over 64 characters, a call to a group, and a
file message with no file in it."""

from __future__ import annotations

import pytest

from chat_trio.client import Message
from chat_trio.model import ContentType, FrameType
from tests.conftest import MakeUser, befriend
from tests.test_socket import assert_nothing_more, welcome


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"content": "x", "contentType": 1, "clientId": "c" * 65}, "clientId is longer than 64"),
        ({"type": "webrtc", "content": "{}", "messageType": 2}, "not to a group"),
        ({"contentType": int(ContentType.IMAGE)}, "a file message needs `file` bytes"),
    ],
)
async def test_refused_with_400_and_the_session_lives(
    make_user: MakeUser, fields: dict[str, object], reason: str
) -> None:
    a, b = await make_user(), await make_user()
    await befriend(a, b)
    message = Message(to=b.uuid, messageType=1)
    for name, value in fields.items():
        setattr(message, name, value)
    async with a.api.connect() as conn:
        await welcome(conn)
        await conn.send(message)
        error = await conn.receive()
        assert (error.type, error.code) == (FrameType.ERROR, 400)
        assert reason in error.content
        await assert_nothing_more(conn)
