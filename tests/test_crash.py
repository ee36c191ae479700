"""A server killed with SIGKILL mid-stream loses nothing it acknowledged.

A real server process; a client streams messages with client ids and records
the acks; the server is killed with -9; a new process starts on the same
database; the client sends everything again with the same ids. Afterwards every
acked message exists exactly once, under the id its ack named, and every sent
message exists exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import trio
import trio_websocket

from chat_trio.client import ChatClient
from chat_trio.model import FrameType
from tests.conftest import PASSWORD
from tests.test_cli import cli_env, free_port

MESSAGES = 1500
KILL_AFTER_ACKS = 300


async def start(tmp_path: Path, port: int) -> trio.Process:
    env = {
        **cli_env(tmp_path),
        "CHAT_TRIO_LIMITS_MESSAGESPERSECOND": "100000",
        "CHAT_TRIO_LIMITS_MESSAGEBURST": "100000",
        "CHAT_TRIO_LOG_LEVEL": "warning",
    }
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "chat_trio", "serve", "--port", str(port)],
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    with trio.fail_after(30):
        while True:
            try:
                async with httpx.AsyncClient() as http:
                    await http.get(f"http://127.0.0.1:{port}/healthz")
                return process
            except httpx.ConnectError:
                await trio.sleep(0.05)


async def stream(
    api: ChatClient, to: str, ids: list[str], acks: dict[str, int],
    on_ack: Callable[[int], None] = lambda _count: None,
) -> None:
    """Send every id as a message and record the acks, until all are acked;
    ``on_ack`` hears the number of acks after each one."""
    with trio.move_on_after(60):
        async with api.connect() as conn:

            async def read_acks() -> None:
                while True:
                    frame = await conn.receive()
                    if frame.type == FrameType.ACK:
                        acks[frame.clientId] = frame.id
                        on_ack(len(acks))
                        if len(acks) == len(ids):
                            return

            async with trio.open_nursery() as nursery:
                nursery.start_soon(read_acks)
                for client_id in ids:
                    await conn.send_text(to, client_id, client_id=client_id)


@pytest.mark.time_limit(120)  # server processes started and killed; 21 s on a busy machine
async def test_kill_9_loses_no_acknowledged_message(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = await start(tmp_path, port)
    ids = [f"msg-{i:05d}" for i in range(MESSAGES)]
    before_kill: dict[str, int] = {}
    try:
        async with ChatClient(url) as a, ChatClient(url) as b:
            await a.signup("streamer", PASSWORD)
            reader = await b.signup("listener", PASSWORD)

            def kill_at(count: int) -> None:
                if count == KILL_AFTER_ACKS:
                    os.kill(process.pid, signal.SIGKILL)

            try:
                await stream(a, reader.uuid, ids, before_kill, on_ack=kill_at)
            except* (trio_websocket.ConnectionClosed, trio_websocket.HandshakeError,
                     trio.BrokenResourceError, OSError):
                pass  # the server died under us: that is the point
            await process.wait()
            assert KILL_AFTER_ACKS <= len(before_kill) < MESSAGES, "the kill came too late"
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    process = await start(tmp_path, port)
    try:
        async with ChatClient(url) as a, ChatClient(url) as b:
            await a.login("streamer", PASSWORD)
            await b.login("listener", PASSWORD)
            after_retry: dict[str, int] = {}
            await stream(a, b.me.uuid if b.me else "", ids, after_retry)
            assert set(after_retry) == set(ids)
            # every ack given before the kill names the same stored message now
            for client_id, message_id in before_kill.items():
                assert after_retry[client_id] == message_id
            stored = await b.since()
            contents = [str(m["content"]) for m in stored]
            assert sorted(contents) == ids  # each message exactly once
            by_content = {str(m["content"]): m["id"] for m in stored}
            assert all(by_content[c] == i for c, i in before_kill.items())
    finally:
        process.send_signal(signal.SIGTERM)
        with trio.move_on_after(15):
            await process.wait()
        if process.returncode is None:
            process.kill()
            await process.wait()
