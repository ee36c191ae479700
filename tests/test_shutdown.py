"""Graceful shutdown and liveness.

SIGTERM while a client streams: the server stops reading, stores and acks
everything it read, closes with 1001 and exits 0; afterwards the messages stored
are exactly the messages acked. A session that sends nothing, not even a
heartbeat, is closed after ``[limits] idleTimeout``.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import trio
import trio_websocket

from chat_trio.client import ChatClient
from chat_trio.model import FrameType
from tests.conftest import PASSWORD, MakeUser
from tests.test_cli import free_port
from tests.test_crash import start
from tests.test_socket import welcome


@pytest.mark.time_limit(120)  # a server process started twice; its own steps allow 105 s
async def test_sigterm_mid_stream_stores_and_acks_what_it_read(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = await start(tmp_path, port)
    acked: dict[str, int] = {}
    try:
        async with ChatClient(url) as a, ChatClient(url) as b:
            await a.signup("sender", PASSWORD)
            reader = await b.signup("reader", PASSWORD)
            with trio.fail_after(60):
                async with a.connect() as conn:
                    await welcome(conn)

                    close_codes: list[int] = []

                    async def send_forever() -> None:
                        i = 0
                        try:
                            while True:
                                await conn.send_text(reader.uuid, f"m{i}", client_id=f"m{i}")
                                i += 1
                                await trio.lowlevel.checkpoint()
                        except trio_websocket.ConnectionClosed:
                            pass  # the server closed: stop sending

                    async def read_acks() -> None:
                        try:
                            while True:
                                frame = await conn.receive()
                                if frame.type == FrameType.ACK:
                                    acked[frame.clientId] = frame.id
                                    if len(acked) == 200:
                                        process.send_signal(signal.SIGTERM)
                        except trio_websocket.ConnectionClosed as closed:
                            close_codes.append(closed.reason.code if closed.reason else -1)

                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(send_forever)
                        nursery.start_soon(read_acks)
                    assert close_codes == [1001]
            with trio.fail_after(30):
                assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    process = await start(tmp_path, port)
    try:
        async with ChatClient(url) as b:
            await b.login("reader", PASSWORD)
            stored = {str(m["content"]): int(m["id"]) for m in await b.since()}
        assert len(acked) >= 200
        assert stored == acked  # all that was read is stored and acked; nothing else
    finally:
        process.send_signal(signal.SIGTERM)
        with trio.move_on_after(15):
            await process.wait()
        if process.returncode is None:
            process.kill()
            await process.wait()


@pytest.fixture
def server_limits() -> dict[str, object]:
    return {"idle_timeout": 1.0}


async def test_a_silent_session_is_closed_and_a_heartbeat_keeps_it(make_user: MakeUser) -> None:
    user = await make_user()
    async with user.api.connect() as quiet, user.api.connect() as alive:
        await welcome(quiet)
        await welcome(alive)
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:

                async def keep_alive() -> None:
                    while True:
                        await alive.heartbeat()
                        assert (await alive.receive()).content == "pong"
                        await trio.sleep(0.3)

                nursery.start_soon(keep_alive)
                with pytest.raises(trio_websocket.ConnectionClosed) as closed:
                    await quiet.receive()
                assert closed.value.reason is not None
                assert "idle" in (closed.value.reason.reason or "")
                nursery.cancel_scope.cancel()
        await alive.heartbeat()
        assert (await alive.receive()).content == "pong"  # still open
