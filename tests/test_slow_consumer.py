"""A client that stops reading is cut off; everyone else keeps receiving.

The server runs with a small outbox so the test needs little data: the slow
client's socket buffers fill, then its outbox, then the server closes it with
1013 instead of waiting for it. The sender waits for each ack before the next
message, so deliveries come one at a time: a burst larger than the outbox would
cut off even a fast reader, which is the outbox bound doing its job.

The outbox is bounded in frames and in bytes: a few large relayed frames are
cut off as surely as many small messages.
"""

from __future__ import annotations

import pytest
import trio
import trio_websocket

from chat_trio.client import Message
from chat_trio.model import ContentType, FrameType
from tests.conftest import MakeUser, make_group
from tests.test_delivery import sync_all

MESSAGES = 500
TEXT = "x" * 60_000  # 500 x 60 kB = 30 MB: far more than loopback socket buffers hold


@pytest.fixture
def server_limits() -> dict[str, object]:
    return {
        "outbox_frames": 64,
        "max_text_chars": 100_000,
        "messages_per_second": 10_000.0,
        "message_burst": 10_000,
    }


async def test_slow_reader_is_closed_while_others_receive(make_user: MakeUser) -> None:
    sender, fast, slow = await make_user(), await make_user(), await make_user()
    group_uuid = await make_group(sender, "busy", fast, slow)
    with trio.fail_after(60):
        async with (
            sender.api.connect() as cs,
            fast.api.connect() as cf,
            slow.api.connect() as cslow,
        ):
            await cslow.receive()  # welcome; then this client reads nothing more for a while
            received = 0

            async def read_fast() -> None:
                nonlocal received
                while received < MESSAGES:
                    message = await cf.receive()
                    if message.content == TEXT:
                        received += 1

            async def send_all() -> None:
                for _ in range(MESSAGES):
                    await cs.send_text(group_uuid, TEXT, group=True)
                    while (await cs.receive()).type != FrameType.ACK:
                        pass

            async with trio.open_nursery() as nursery:
                nursery.start_soon(read_fast)
                nursery.start_soon(send_all)
            assert received == MESSAGES

            # Now read what reached the slow client: a part, then the close.
            seen: list[int] = []

            async def read_slow() -> None:
                while True:
                    message = await cslow.receive()
                    if message.content == TEXT:
                        seen.append(message.id)

            with pytest.raises(trio_websocket.ConnectionClosed) as closed:
                await read_slow()
            assert len(seen) < MESSAGES
            assert closed.value.reason is not None
            assert closed.value.reason.code == 1013

        # The cut-off client reconnects and catches up from the last id it saw:
        # everything arrives, nothing twice.
        async with slow.api.connect() as again:
            await again.receive()  # welcome
            rest = await sync_all(again, seen[-1] if seen else 0)
        ids = seen + [m.id for m in rest]
        assert len(ids) == MESSAGES == len(set(ids))


SCREEN = "data:image/jpeg;base64," + "A" * (512 * 1024)  # a large screen-share frame
SCREENS = 60  # 30 MB: more than loopback buffers hold, far fewer frames than outboxFrames


@pytest.mark.parametrize(
    "server_limits",
    [{"outbox_bytes": 1024 * 1024, "messages_per_second": 10_000.0, "message_burst": 10_000}],
)
async def test_large_relayed_frames_are_cut_off_in_bytes(make_user: MakeUser) -> None:
    """60 screen frames of 512 KiB to a client that never reads: the outbox holds at
    most 1 MiB of them (not 1024 frames, 512 MiB), then the client is cut off with 1013."""
    sharer, viewer = await make_user(), await make_user()
    with trio.fail_after(60):
        async with sharer.api.connect() as cs, viewer.api.connect() as cv:
            await cs.receive()  # welcome
            await cv.receive()  # welcome; then the viewer reads nothing for a while
            for _ in range(SCREENS):
                await cs.send(
                    Message(to=viewer.uuid, contentType=ContentType.SCREEN_FRAME,
                            messageType=1, content=SCREEN)
                )
            # The last frame: a small one, relayed only if the viewer is still connected.
            await cs.send(
                Message(to=viewer.uuid, contentType=ContentType.VIDEO_CANCEL, messageType=1)
            )
            await cs.heartbeat()  # the server has handled everything the sharer sent
            assert (await cs.receive()).content == "pong"
            screens = 0
            with pytest.raises(trio_websocket.ConnectionClosed) as closed:  # noqa: PT012
                while True:
                    message = await cv.receive()
                    assert message.contentType != ContentType.VIDEO_CANCEL, (
                        f"all {screens} screen frames were queued: nothing was cut off"
                    )
                    screens += 1
            reason = closed.value.reason
            assert reason is not None and reason.code == 1013
            assert screens < SCREENS


@pytest.mark.parametrize(
    "server_limits",
    [{
        "outbox_bytes": 64 * 1024, "max_media_frame_bytes": 64 * 1024,
        "messages_per_second": 10_000.0, "message_burst": 10_000,
    }],
)
async def test_a_catch_up_page_fits_the_outbox_bytes(make_user: MakeUser) -> None:
    """A sync page stops at half the outbox's bytes (and says "more"), so catching up
    on large messages never cuts the client off as slow."""
    sender, away = await make_user(), await make_user()
    total = 20
    text = "x" * 9_000
    with trio.fail_after(60):
        async with sender.api.connect() as cs:
            await cs.receive()  # welcome
            for _ in range(total):
                await cs.send_text(away.uuid, text)
                while (await cs.receive()).type != FrameType.ACK:
                    pass
        async with away.api.connect() as ca:
            await ca.receive()  # welcome
            await ca.send(Message(type=FrameType.SYNC, id=0))
            page: list[Message] = []
            while (frame := await ca.receive()).type != FrameType.SYNC:
                page.append(frame)
            assert frame.content == "more"
            assert 1 <= len(page) <= 4  # 32 KiB of 9 kB frames
            assert frame.id == page[-1].id
            rest = await sync_all(ca, frame.id)
    assert [m.content for m in page + rest] == [text] * total
    assert len({m.id for m in page + rest}) == total
