"""The hub alone: channels and fake peers, no sockets."""

from __future__ import annotations

from dataclasses import dataclass, field

import trio
import trio.testing

from chat_trio import codec
from chat_trio.hub import Fanout, Hub, Register, Reply, Unregister


@dataclass(eq=False)
class FakePeer:
    user_uuid: str
    accept: bool = True
    features: frozenset[str] = frozenset()
    got: list[bytes] = field(default_factory=list)

    def deliver(self, payload: bytes) -> bool:
        if self.accept:
            self.got.append(payload)
        return self.accept


async def run_events(*events: object) -> Hub:
    hub = Hub()
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        for event in events:
            await hub.inbox.send(event)  # type: ignore[arg-type]
        await trio.testing.wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()
    return hub


async def test_register_sends_welcome_and_fanout_reaches_every_session() -> None:
    a1, a2, b = FakePeer("a"), FakePeer("a"), FakePeer("b")
    hub = await run_events(Register(a1), Register(a2), Register(b), Fanout(b"m", ("a", "zz")))
    assert a1.got == [codec.welcome_frame("a"), b"m"]
    assert a2.got == [codec.welcome_frame("a"), b"m"]
    assert b.got == [codec.welcome_frame("b")]
    assert hub.statistics().sessions == 3


async def test_skip_reply_and_unregister() -> None:
    a1, a2 = FakePeer("a"), FakePeer("a")
    hub = await run_events(
        Register(a1), Register(a2), Fanout(b"x", ("a",), skip=a1), Reply(a1, b"ack"),
        Unregister(a2), Fanout(b"y", ("a",)), Unregister(a2),
    )
    assert a1.got[1:] == [b"ack", b"y"]
    assert a2.got[1:] == [b"x"]
    assert hub.is_online("a")
    assert hub.statistics().sessions == 1


async def test_a_refusing_peer_does_not_stop_the_others() -> None:
    slow, fine = FakePeer("s", accept=False), FakePeer("f")
    hub = await run_events(Register(slow), Register(fine), Fanout(b"z", ("s", "f")))
    assert fine.got[-1] == b"z"
    assert hub.statistics().refused == 2  # the welcome and the message


async def test_presence_hook_hears_first_and_last_session_only() -> None:
    heard: list[tuple[str, bool]] = []
    hub = Hub()
    hub.on_presence = lambda user, online: heard.append((user, online))
    a1, a2 = FakePeer("a"), FakePeer("a")
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        for event in (Register(a1), Register(a2), Unregister(a1), Unregister(a2), Unregister(a2)):
            await hub.inbox.send(event)
        await trio.testing.wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()
    assert heard == [("a", True), ("a", False)]
