"""A session's idle timeout, on Trio's virtual clock: no socket, no real waiting.

The session runs over a transport made of memory channels (the test plays the
client) with the shipped default ``idleTimeout`` of 60 s, and ``autojump_clock``
makes minutes pass at once. tests/test_shutdown.py checks the same close over a
real socket, with a small real timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import trio
import trio.testing

from chat_trio import codec
from chat_trio.hub import HubEvent
from chat_trio.model import FrameType, User
from chat_trio.session import Session, TransportClosed

IDLE = 60.0  # seconds of virtual time: the shipped default


@dataclass
class ChannelTransport:
    """The session's Transport over memory channels."""

    incoming: trio.MemoryReceiveChannel[bytes | str]
    outgoing: trio.MemorySendChannel[bytes]
    closed_with: tuple[int, str] | None = None
    closed: trio.Event = field(default_factory=trio.Event)

    async def receive(self) -> bytes | str:
        try:
            return await self.incoming.receive()
        except trio.EndOfChannel:
            raise TransportClosed() from None

    def receive_nowait(self) -> bytes | str | None:
        return None  # every frame goes through receive(), under the idle timer

    def send_nowait(self, data: bytes) -> None:
        try:
            self.outgoing.send_nowait(data)
        except trio.ClosedResourceError:
            raise TransportClosed() from None

    def set_writer_hook(self, hook: Callable[[], None] | None) -> None:
        pass  # send_nowait delivers at once: a writer never has work

    async def run_writer(self) -> None:
        await self.closed.wait()  # send_nowait delivers at once: nothing to write later

    async def close(self, code: int, reason: str) -> None:
        self.closed_with = (code, reason)
        self.closed.set()
        self.outgoing.close()  # the client reads to the end, then EndOfChannel


@dataclass
class Client:
    """The test's end: what it sends, what it receives, and when the session ended."""

    send: trio.MemorySendChannel[bytes | str]
    received: trio.MemoryReceiveChannel[bytes]
    transport: ChannelTransport
    frames: list[codec.Message]

    async def heartbeat(self) -> None:
        await self.send.send(codec.encode(codec.Message(type=FrameType.HEARTBEAT, content="ping")))
        pong = codec.decode(await self.received.receive())
        assert (pong.type, pong.content) == (FrameType.HEARTBEAT, "pong")


@pytest.fixture
async def client(nursery: trio.Nursery) -> Client:
    to_server, incoming = trio.open_memory_channel[bytes | str](16)
    outgoing, from_server = trio.open_memory_channel[bytes](16)
    hub_inbox, hub_events = trio.open_memory_channel[HubEvent](16)
    transport = ChannelTransport(incoming, outgoing)
    frames: list[codec.Message] = []

    async def handle_frame(_: Session, message: codec.Message) -> None:
        frames.append(message)

    async def drain_hub() -> None:
        async for _ in hub_events:
            pass

    user = User(id=1, uuid="u-1", username="quiet", nickname="", email="", avatar="")
    session = Session(
        user, transport, hub_inbox=hub_inbox, handle_frame=handle_frame, idle_timeout=IDLE
    )
    nursery.start_soon(drain_hub)
    nursery.start_soon(session.run)
    return Client(to_server, from_server, transport, frames)


async def test_a_silent_session_is_closed_after_the_idle_timeout(
    client: Client, autojump_clock: trio.testing.MockClock
) -> None:
    start = trio.current_time()
    await client.transport.closed.wait()
    assert trio.current_time() - start == pytest.approx(IDLE)
    assert client.transport.closed_with is not None
    code, reason = client.transport.closed_with
    assert code == 1000 and reason.startswith("idle")


async def test_heartbeats_keep_a_session_open_for_many_timeouts(
    client: Client, autojump_clock: trio.testing.MockClock
) -> None:
    start = trio.current_time()
    for _ in range(20):  # 20 x 0.9 timeouts: a timer that is not reset would fire
        await trio.sleep(IDLE * 0.9)
        await client.heartbeat()
    assert not client.transport.closed.is_set()
    silent_from = trio.current_time()
    await client.transport.closed.wait()  # then silence: closed one timeout later
    assert trio.current_time() - silent_from == pytest.approx(IDLE)
    assert trio.current_time() - start > 18 * IDLE


async def test_any_frame_counts_as_a_sign_of_life(
    client: Client, autojump_clock: trio.testing.MockClock
) -> None:
    chat = codec.Message(to="u-2", content="still here", type=FrameType.CHAT, messageType=1)
    for _ in range(5):
        await trio.sleep(IDLE * 0.9)
        await client.send.send(codec.encode(chat))
    await trio.testing.wait_all_tasks_blocked()
    assert not client.transport.closed.is_set()
    assert [m.content for m in client.frames] == ["still here"] * 5
