"""/socket.io end to end: a real server, real sockets, the trio-websocket client."""

from __future__ import annotations

import base64

import pytest
import trio
import trio_websocket

from chat_trio.client import Connection, Message
from chat_trio.model import ContentType, FrameType
from tests.conftest import MakeUser, Server, User, befriend, make_group
from tests.test_http_api import PNG, raw

#: A minimal WAV file: RIFF header, fmt chunk, 4 bytes of silence.
WAV = (
    b"RIFF(\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00"
    b"\x02\x00\x10\x00data\x04\x00\x00\x00\x00\x00\x00\x00"
)


async def welcome(conn: Connection) -> Message:
    message = await conn.receive()
    assert (getattr(message, "from"), message.content) == ("System", "welcome!")
    return message


async def next_of_type(conn: Connection, frame_type: str) -> Message:
    with trio.fail_after(10):
        while True:
            message = await conn.receive()
            if message.type == frame_type:
                return message


async def assert_nothing_more(conn: Connection) -> None:
    """Nothing else is queued for ``conn``: a heartbeat's pong comes next."""
    await conn.heartbeat()
    with trio.fail_after(10):
        message = await conn.receive()
    assert (message.type, message.content) == (FrameType.HEARTBEAT, "pong"), message


async def test_refused_without_a_valid_token(server: Server, make_user: MakeUser) -> None:
    user = await make_user()
    for token in ("", "forged-token"):
        with pytest.raises(trio_websocket.ConnectionRejected) as refused:
            async with user.api.connect(token=token, user=user.uuid):
                pass
        assert refused.value.status_code == 401
        assert b"not logged in" in (refused.value.body or b"")


async def test_refused_when_user_names_someone_else(make_user: MakeUser) -> None:
    a, b = await make_user(), await make_user()
    with pytest.raises(trio_websocket.ConnectionRejected) as refused:
        async with a.api.connect(user=b.uuid):
            pass
    assert refused.value.status_code == 403


async def test_welcome_and_heartbeat(make_user: MakeUser) -> None:
    user = await make_user()
    async with user.api.connect() as conn:
        message = await welcome(conn)
        assert message.to == user.uuid
        await assert_nothing_more(conn)


async def test_cookie_authenticates_the_socket(server: Server, make_user: MakeUser) -> None:
    user = await make_user()
    url = f"ws://{server.url.split('://')[1]}/socket.io?user={user.uuid}"
    cookie = (b"Cookie", f"chat_trio_token={user.me.token}".encode())
    async with trio_websocket.open_websocket_url(url, extra_headers=[cookie]) as ws:
        assert b"welcome!" in await ws.get_message()


async def test_one_to_one_delivered_acked_and_in_history(make_user: MakeUser) -> None:
    a, b = await make_user(), await make_user()
    await befriend(a, b)
    async with a.api.connect() as ca, b.api.connect() as cb:
        await welcome(ca)
        await welcome(cb)
        cid = await ca.send_text(b.uuid, "hello 👋 ñ")
        ack = await next_of_type(ca, FrameType.ACK)
        got = await cb.receive()
        assert ack.clientId == cid and ack.id > 0 and ack.createAt > 0
        assert getattr(got, "from") == a.uuid
        assert (got.to, got.content, got.fromUsername) == (b.uuid, "hello 👋 ñ", a.username)
        assert (got.id, got.createAt, got.messageType) == (ack.id, ack.createAt, 1)
        await assert_nothing_more(ca)  # the sender gets no copy
    history = await b.api.request(
        "GET", "/message", params={"Uuid": b.uuid, "MessageType": 1, "FriendUsername": a.username}
    )
    assert [(m["id"], m["content"]) for m in history] == [(ack.id, "hello 👋 ñ")]


async def test_group_of_three_rewritten_for_the_others(make_user: MakeUser) -> None:
    a, b, c = await make_user(), await make_user(), await make_user()
    group_uuid = await make_group(a, "trio-fans", b, c)
    async with a.api.connect() as ca, b.api.connect() as cb, c.api.connect() as cc:
        for conn in (ca, cb, cc):
            await welcome(conn)
        await ca.send(
            Message(
                to=group_uuid, content="hi all", contentType=1, messageType=2,
                clientId="g1", fileSuffix="x",
            )
        )
        ack = await next_of_type(ca, FrameType.ACK)
        for conn in (cb, cc):
            got = await conn.receive()
            assert getattr(got, "from") == group_uuid
            assert (got.to, got.fromUsername, got.content) == (a.uuid, a.username, "hi all")
            assert (got.messageType, got.contentType, got.id) == (2, 1, ack.id)
            assert got.file == b"" and got.fileSuffix == ""
        await assert_nothing_more(ca)


async def test_message_to_offline_user_is_kept(make_user: MakeUser) -> None:
    a, b = await make_user(), await make_user()
    async with a.api.connect() as ca:
        await welcome(ca)
        await ca.send_text(b.uuid, "while you were out")
        await next_of_type(ca, FrameType.ACK)
    async with b.api.connect() as cb:
        await welcome(cb)
        await assert_nothing_more(cb)  # not pushed on connect: it is in history
    history = await b.api.request(
        "GET", "/message", params={"Uuid": b.uuid, "MessageType": 1, "FriendUsername": a.username}
    )
    assert [m["content"] for m in history] == ["while you were out"]


@pytest.mark.parametrize(
    ("sent_type", "payload", "expected_type", "mime"),
    [
        (ContentType.IMAGE, PNG, ContentType.IMAGE, "image/png"),
        (ContentType.IMAGE, WAV, ContentType.AUDIO, "audio/x-wav"),
        (ContentType.VIDEO, PNG, ContentType.IMAGE, "image/png"),
    ],
)
async def test_file_bytes_stored_served_and_retyped(
    server: Server, make_user: MakeUser, sent_type: int, payload: bytes,
    expected_type: int, mime: str,
) -> None:
    a, b = await make_user(), await make_user()
    async with a.api.connect() as ca, b.api.connect() as cb:
        await welcome(ca)
        await welcome(cb)
        await ca.send(
            Message(to=b.uuid, contentType=sent_type, messageType=1, file=payload, clientId="f")
        )
        got = await cb.receive()
    assert got.contentType == expected_type
    assert got.file == b"" and got.url
    served = await raw(server, "GET", f"/file/{got.url}")
    assert served.content == payload
    assert served.headers["content-type"] == mime


async def test_data_url_file_stored_and_retyped(server: Server, make_user: MakeUser) -> None:
    a, b = await make_user(), await make_user()
    data_url = "data:application/octet-stream;base64," + base64.b64encode(PNG).decode()
    async with a.api.connect() as ca, b.api.connect() as cb:
        await welcome(ca)
        await welcome(cb)
        await ca.send(Message(to=b.uuid, contentType=2, messageType=1, content=data_url))
        got = await cb.receive()
    assert (got.contentType, got.content) == (ContentType.IMAGE, "")
    assert (await raw(server, "GET", f"/file/{got.url}")).content == PNG


async def test_spoofed_sender_fields_are_replaced(make_user: MakeUser) -> None:
    a, b, victim = await make_user(), await make_user(), await make_user()
    async with a.api.connect() as ca, b.api.connect() as cb:
        await welcome(ca)
        await welcome(cb)
        spoof = Message(to=b.uuid, content="trust me", contentType=1, messageType=1)
        setattr(spoof, "from", victim.uuid)
        spoof.fromUsername = victim.username
        spoof.avatar = "evil.png"
        await ca.send(spoof)
        got = await cb.receive()
    assert getattr(got, "from") == a.uuid
    assert (got.fromUsername, got.avatar) == (a.username, "")
    history = await b.api.request(
        "GET", "/message",
        params={"Uuid": b.uuid, "MessageType": 1, "FriendUsername": victim.username},
    )
    assert history == []


async def test_a_profile_change_shows_in_frames_from_an_open_session(
    make_user: MakeUser,
) -> None:
    """The sender fields of live frames come from the current profile: a socket opened
    before an avatar or nickname change sends frames that carry the new one."""
    a, b = await make_user(), await make_user()
    async with a.api.connect() as ca, b.api.connect() as cb:
        await welcome(ca)
        await welcome(cb)
        await a.api.request("PUT", "/user", json={"username": a.username, "nickname": "New A"})
        avatar = await a.api.request(
            "POST", "/file", data={"uuid": a.uuid}, files={"file": ("a.png", PNG, "image/png")}
        )
        await ca.send_text(b.uuid, "after the change")
        await ca.send(Message(to=b.uuid, type="webrtc", content="{}", messageType=1))
        chat, relayed = await cb.receive(), await cb.receive()
        for got in (chat, relayed):
            assert (getattr(got, "from"), got.fromUsername, got.avatar) == (
                a.uuid, a.username, avatar,
            )
    me = await a.api.request("GET", "/user/me")  # the same token, cached since the signup
    assert (me["nickname"], me["avatar"]) == ("New A", avatar)


async def test_signaling_and_calls_relayed_not_stored(make_user: MakeUser) -> None:
    a, b = await make_user(), await make_user()
    offer = '{"type":"offer","sdp":"v=0"}'
    async with a.api.connect() as ca, b.api.connect() as cb:
        await welcome(ca)
        await welcome(cb)
        await ca.send(Message(to=b.uuid, type="webrtc", content=offer, messageType=1))
        await ca.send(Message(to=b.uuid, contentType=ContentType.VIDEO_DIAL, messageType=1))
        got_offer, got_dial = await cb.receive(), await cb.receive()
        assert (got_offer.type, got_offer.content, getattr(got_offer, "from")) == (
            "webrtc", offer, a.uuid,
        )
        assert got_dial.contentType == ContentType.VIDEO_DIAL
        assert got_offer.id == 0 and got_dial.id == 0
    history = await b.api.request(
        "GET", "/message", params={"Uuid": b.uuid, "MessageType": 1, "FriendUsername": a.username}
    )
    assert history == []


@pytest.mark.parametrize(
    ("message", "code", "reason"),
    [
        (Message(to="no-user", content="x", contentType=1, messageType=1), 404, "no such user"),
        (Message(to="no-group", content="x", contentType=1, messageType=2), 404, "no such group"),
        (Message(to="", content="x", contentType=1, messageType=1), 403, "not allowed"),
        (Message(to="", type="webrtc", content="{}"), 403, "not allowed"),
        (Message(to="no-such-user", type="webrtc", content="{}"), 404, "no such user"),
        (Message(to="x", content="x", contentType=1, messageType=9), 400, "messageType"),
        (Message(to="x", type="ack"), 400, "server only"),
    ],
)
async def test_refused_frames_get_an_error_and_the_session_lives(
    make_user: MakeUser, message: Message, code: int, reason: str
) -> None:
    user = await make_user()
    message.clientId = "c-1"
    async with user.api.connect() as conn:
        await welcome(conn)
        await conn.send(message)
        error = await conn.receive()
        assert (error.type, error.code, error.clientId) == (FrameType.ERROR, code, "c-1")
        assert reason in error.content
        await assert_nothing_more(conn)


async def test_group_message_from_a_non_member_is_refused(make_user: MakeUser) -> None:
    a, b, outsider = await make_user(), await make_user(), await make_user()
    group_uuid = await make_group(a, "closed", b)
    async with outsider.api.connect() as co, b.api.connect() as cb:
        await welcome(co)
        await welcome(cb)
        await co.send_text(group_uuid, "let me in", group=True)
        error = await next_of_type(co, FrameType.ERROR)
        assert error.code == 403
        await assert_nothing_more(cb)
    history = await a.api.request("GET", "/message", params={"Uuid": group_uuid, "MessageType": 2})
    assert history == []


@pytest.mark.parametrize("frame", [b"\xff\xff\xff\xff", b"\x0a\x05ab", "not protobuf at all"])
async def test_malformed_frames_get_an_error_and_the_session_lives(
    make_user: MakeUser, frame: bytes | str
) -> None:
    user = await make_user()
    async with user.api.connect() as conn:
        await welcome(conn)
        await conn.send_raw(frame)
        error = await conn.receive()
        assert (error.type, error.code) == (FrameType.ERROR, 400)
        assert "malformed frame" in error.content
        await assert_nothing_more(conn)


async def test_text_frames_are_parsed_as_protobuf(make_user: MakeUser) -> None:
    user = await make_user()
    ping = Message(type=FrameType.HEARTBEAT, content="ping").SerializeToString().decode()
    async with user.api.connect() as conn:
        await welcome(conn)
        await conn.send_raw(ping)
        assert (await conn.receive()).content == "pong"


async def test_too_long_text_is_refused(make_user: MakeUser) -> None:
    a, b = await make_user(), await make_user()
    async with a.api.connect() as ca:
        await welcome(ca)
        await ca.send_text(b.uuid, "x" * 10_001)
        error = await next_of_type(ca, FrameType.ERROR)
        assert error.code == 413


async def test_url_must_name_an_uploaded_file(make_user: MakeUser) -> None:
    a, b = await make_user(), await make_user()
    async with a.api.connect() as ca:
        await welcome(ca)
        await ca.send(Message(to=b.uuid, contentType=3, messageType=1, url="../../etc/passwd"))
        assert (await next_of_type(ca, FrameType.ERROR)).code == 400
        uploaded = await a.api.request("POST", "/upload", files={"file": ("a.png", PNG)})
        await ca.send(
            Message(to=b.uuid, contentType=3, messageType=1, url=uploaded["name"], clientId="u")
        )
        assert (await next_of_type(ca, FrameType.ACK)).clientId == "u"




async def test_a_call_to_someone_offline_is_refused_at_once(make_user: MakeUser) -> None:
    caller, away = await make_user(), await make_user()
    async with caller.api.connect() as conn:
        await welcome(conn)
        await conn.send(Message(to=away.uuid, contentType=ContentType.AUDIO_DIAL, messageType=1))
        refused = await next_of_type(conn, FrameType.ERROR)
        assert (refused.code, refused.content) == (404, "that user is not online")
        async with away.api.connect() as answering:
            await welcome(answering)
            await conn.send(
                Message(to=away.uuid, contentType=ContentType.VIDEO_DIAL, messageType=1)
            )
            assert (await answering.receive()).contentType == ContentType.VIDEO_DIAL


KIB, MIB = 1024, 1024 * 1024


@pytest.mark.parametrize(
    ("kind", "limit"),
    [
        (Message(type=FrameType.WEBRTC), 64 * KIB),
        (Message(contentType=ContentType.VIDEO_DIAL), 64 * KIB),
        (Message(contentType=ContentType.SCREEN_FRAME), MIB),
        (Message(contentType=ContentType.VIDEO_FRAME), MIB),
    ],
)
async def test_relayed_frames_are_capped_by_kind(
    make_user: MakeUser, kind: Message, limit: int
) -> None:
    """Signaling and call control up to 64 KiB, video and screen frames up to 1 MiB
    (the defaults): one byte more is refused with 413, and the session goes on."""
    a, b = await make_user(), await make_user()
    with trio.fail_after(30):
        await _relay_caps(a, b, kind, limit)


async def _relay_caps(a: User, b: User, kind: Message, limit: int) -> None:
    async with a.api.connect() as ca, b.api.connect() as cb:
        await welcome(ca)
        await welcome(cb)

        def sized(size: int, client_id: str) -> Message:
            message = Message()
            message.CopyFrom(kind)
            message.to, message.messageType, message.clientId = b.uuid, 1, client_id
            setattr(message, "from", a.uuid)  # the server sets these; count them in
            message.fromUsername = a.username
            message.content = ""
            message.content = "x" * (size - message.ByteSize() - 4)
            assert message.ByteSize() == size
            return message

        await ca.send(sized(limit + 1, "big"))
        error = await next_of_type(ca, FrameType.ERROR)
        assert (error.code, error.clientId) == (413, "big")
        assert f"at most {limit} bytes" in error.content
        await ca.send(sized(limit, "fits"))
        got = await cb.receive()
        assert got.clientId == "fits" and len(got.content) > limit - 200
        await assert_nothing_more(ca)
        await assert_nothing_more(cb)


async def test_messages_are_counted_by_their_stored_type(
    server: Server, make_user: MakeUser
) -> None:
    """go-chat's client sends every file as an image (or as a data URL of type 2): the
    metric counts what the bytes turned out to be, as the message is stored."""
    a, b = await make_user(), await make_user()
    png_url = "data:application/octet-stream;base64," + base64.b64encode(PNG).decode()
    sent = [
        Message(contentType=ContentType.IMAGE, file=WAV),  # stored as audio
        Message(contentType=ContentType.VIDEO, file=PNG),  # stored as an image
        Message(contentType=ContentType.FILE, content=png_url),  # stored as an image
        Message(contentType=ContentType.IMAGE, file=b"just some bytes"),  # stored as a file
    ]
    async with a.api.connect() as ca:
        await welcome(ca)
        for i, message in enumerate(sent):
            message.to, message.messageType, message.clientId = b.uuid, 1, f"m{i}"
            await ca.send(message)
            assert (await next_of_type(ca, FrameType.ACK)).clientId == f"m{i}"
    text = (await raw(server, "GET", "/metrics")).text
    counted = {
        kind: metric(text, f'chat_trio_messages_received_total{{kind="{kind}"}}')
        for kind in ("text", "file", "image", "audio", "video")
    }
    assert counted == {"text": 0, "file": 1, "image": 2, "audio": 1, "video": 0}


def metric(text: str, name: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name)
    )
