"""Calls routed by the server's call state, over real sockets: a callee on two devices.

Every device of the callee rings; the one that answers is in the call and the
others are told; later frames go only to the devices in the call; a reject from
a device that is not in the call changes nothing; frames with an empty ``to``
follow the call (go-chat's client). Each wait is bounded; "nothing arrived" is
checked with a later frame that takes the same path, never with a sleep.
"""

from __future__ import annotations

import trio

from chat_trio.client import Connection, Message
from chat_trio.model import ContentType, FrameType
from tests.conftest import MakeUser
from tests.test_socket import assert_nothing_more, next_of_type, welcome

OFFER = '{"type":"offer","sdp":"v=0"}'
ANSWER = '{"type":"answer","sdp":"v=0"}'
ICE = '{"type":"answer_ice","iceCandidate":{"candidate":"c"}}'


async def frame(conn: Connection) -> Message:
    """The next frame that is not a pong, ack or welcome."""
    with trio.fail_after(10):
        return await conn.receive_chat()


def call(to: str, content_type: int, **fields: object) -> Message:
    return Message(to=to, contentType=content_type, messageType=1, **fields)  # type: ignore[arg-type]


def rtc(to: str, content: str) -> Message:
    return Message(to=to, type=FrameType.WEBRTC, content=content, messageType=1)


def sender(message: Message) -> str:
    return str(getattr(message, "from"))


async def test_a_call_rings_every_device_and_stays_on_the_one_that_answered(
    make_user: MakeUser,
) -> None:
    a, b, c = await make_user(), await make_user(), await make_user()
    async with a.api.connect() as ca, b.api.connect() as b1, b.api.connect() as b2:
        for conn in (ca, b1, b2):
            await welcome(conn)
        await ca.send(call(b.uuid, ContentType.VIDEO_DIAL))
        for device in (b1, b2):
            dial = await frame(device)
            assert (dial.contentType, sender(dial), dial.to) == (
                ContentType.VIDEO_DIAL, a.uuid, b.uuid,
            )

        await b1.send(call(a.uuid, ContentType.VIDEO_ACCEPT))
        accepted = await frame(ca)
        assert (accepted.contentType, sender(accepted)) == (ContentType.VIDEO_ACCEPT, b.uuid)
        told = await frame(b2)
        assert (told.contentType, told.reason, sender(told), told.to) == (
            ContentType.VIDEO_CANCEL, "answered-elsewhere", a.uuid, b.uuid,
        )

        # A reject from the device that is not in the call does not reach the caller:
        # the text b2 sends after it is the next thing the caller gets.
        await b2.send(call(a.uuid, ContentType.VIDEO_REJECT))
        await b2.send_text(a.uuid, "after the stray reject")
        await next_of_type(b2, FrameType.ACK)
        assert (await frame(ca)).content == "after the stray reject"
        assert (await frame(b1)).content == "after the stray reject"  # b's other device

        # The caller's signaling goes to the answering device only.
        await ca.send(rtc(b.uuid, OFFER))
        offer = await frame(b1)
        assert (offer.type, offer.content, sender(offer)) == (FrameType.WEBRTC, OFFER, a.uuid)
        await assert_nothing_more(b2)

        # go-chat's client answers to the chat it has open: nobody, or someone else.
        await b1.send(rtc("", ANSWER))
        await b1.send(rtc(c.uuid, ICE))
        for content in (ANSWER, ICE):
            got = await frame(ca)
            assert (got.content, sender(got), got.to) == (content, b.uuid, a.uuid)

        await ca.send(call(b.uuid, ContentType.VIDEO_CANCEL))
        hung_up = await frame(b1)
        assert (hung_up.contentType, sender(hung_up)) == (ContentType.VIDEO_CANCEL, a.uuid)
        await assert_nothing_more(b2)

        # The call is over: an empty `to` names nobody again.
        await b1.send(rtc("", ICE))
        refused = await frame_or_error(b1)
        assert (refused.type, refused.code) == (FrameType.ERROR, 403)


async def frame_or_error(conn: Connection) -> Message:
    with trio.fail_after(10):
        while True:
            message = await conn.receive()
            if message.type == FrameType.ERROR or sender(message) != "System":
                return message


async def test_a_reject_from_a_ringing_device_declines_for_every_device(
    make_user: MakeUser,
) -> None:
    a, b = await make_user(), await make_user()
    async with a.api.connect() as ca, b.api.connect() as b1, b.api.connect() as b2:
        for conn in (ca, b1, b2):
            await welcome(conn)
        await ca.send(call(b.uuid, ContentType.AUDIO_DIAL))
        for device in (b1, b2):
            assert (await frame(device)).contentType == ContentType.AUDIO_DIAL
        await b2.send(call(a.uuid, ContentType.AUDIO_REJECT))
        rejected = await frame(ca)
        assert (rejected.contentType, sender(rejected)) == (ContentType.AUDIO_REJECT, b.uuid)
        told = await frame(b1)
        assert (told.contentType, told.reason) == (ContentType.AUDIO_CANCEL, "declined-elsewhere")


async def test_a_device_leaving_the_call_ends_it_for_the_other_side(
    make_user: MakeUser,
) -> None:
    a, b = await make_user(), await make_user()
    async with a.api.connect() as ca, b.api.connect() as b2:
        await welcome(ca)
        await welcome(b2)
        async with b.api.connect() as b1:
            await welcome(b1)
            await ca.send(call(b.uuid, ContentType.VIDEO_DIAL))
            await frame(b1)
            await frame(b2)
            await b1.send(call(a.uuid, ContentType.VIDEO_ACCEPT))
            assert (await frame(ca)).contentType == ContentType.VIDEO_ACCEPT
            assert (await frame(b2)).reason == "answered-elsewhere"
        ended = await frame(ca)
        assert (ended.contentType, ended.reason, sender(ended), ended.to) == (
            ContentType.VIDEO_CANCEL, "disconnected", b.uuid, a.uuid,
        )
        await assert_nothing_more(b2)


async def test_go_chats_client_answers_with_an_empty_to(make_user: MakeUser) -> None:
    """go-chat's client sends every call frame as ``type: "webrtc"``, and, when the
    caller's chat is not open, with an empty ``to``: accept, answer, reject."""
    a, b = await make_user(), await make_user()
    async with a.api.connect() as ca, b.api.connect() as cb:
        await welcome(ca)
        await welcome(cb)
        for _ in range(2):
            await ca.send(call(b.uuid, ContentType.VIDEO_DIAL, type=FrameType.WEBRTC))
            assert (await frame(cb)).contentType == ContentType.VIDEO_DIAL
            reject = Message(to="", type=FrameType.WEBRTC, contentType=ContentType.VIDEO_REJECT)
            await cb.send(reject)
            rejected = await frame(ca)
            assert (rejected.contentType, rejected.to) == (ContentType.VIDEO_REJECT, a.uuid)
        await ca.send(call(b.uuid, ContentType.AUDIO_DIAL, type=FrameType.WEBRTC))
        await frame(cb)
        await cb.send(Message(to="", type=FrameType.WEBRTC, contentType=ContentType.AUDIO_ACCEPT))
        assert (await frame(ca)).contentType == ContentType.AUDIO_ACCEPT
        await ca.send(rtc(b.uuid, OFFER))
        assert (await frame(cb)).content == OFFER
        await cb.send(rtc("", ANSWER))
        answer = await frame(ca)
        assert (answer.content, sender(answer), answer.to) == (ANSWER, b.uuid, a.uuid)


async def test_a_call_to_yourself_is_refused(make_user: MakeUser) -> None:
    a = await make_user()
    async with a.api.connect() as ca:
        await welcome(ca)
        await ca.send(call(a.uuid, ContentType.AUDIO_DIAL))
        refused = await frame_or_error(ca)
        assert (refused.type, refused.code) == (FrameType.ERROR, 400)
