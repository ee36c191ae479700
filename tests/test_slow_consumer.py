"""A client that stops reading is cut off; everyone else keeps receiving.

The server runs with a small outbox so the test needs little data: the slow
client's socket buffers fill, then its outbox, then the server closes it with
1013 instead of waiting for it. The sender waits for each ack before the next
message, so deliveries come one at a time: a burst larger than the outbox would
cut off even a fast reader, which is the outbox bound doing its job.
"""

from __future__ import annotations

import pytest
import trio
import trio_websocket

from chat_trio.model import FrameType
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
