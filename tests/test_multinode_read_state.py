"""Read positions and mutes across three nodes on the real Redis and MariaDB: a mark
made on one node reaches the reader's sessions and the peer's on the others."""

from __future__ import annotations

import pytest
import trio

from chat_trio.client import ChatClient, Connection, Message
from chat_trio.model import FrameType
from tests.conftest import PASSWORD
from tests.test_multinode import (  # noqa: F401  (cluster: a fixture of this module too)
    STEP,
    Cluster,
    cluster,
    me,
    send_acked,
    user_on,
    wait_nodes,
    wait_online,
)

pytestmark = [pytest.mark.multinode, pytest.mark.mysql]


async def next_frame(conn: Connection, frame_type: str) -> Message:
    with trio.fail_after(STEP):
        while True:
            frame = await conn.receive()
            if frame.type == frame_type:
                return frame


def read_of(frame: Message) -> tuple[str, str, int, int]:
    return getattr(frame, "from"), frame.to, frame.id, frame.unread


async def test_a_read_position_reaches_every_node(cluster: Cluster) -> None:  # noqa: F811
    a, b, c = cluster.nodes[:3]
    async with user_on(a) as alice, user_on(c) as bob, ChatClient(b.url) as alice_on_b:
        assert alice.me is not None
        await alice_on_b.login(alice.me.username, PASSWORD)
        async with (
            alice.connect(features="reads") as phone,
            alice_on_b.connect(features="reads") as laptop,
            bob.connect(features="reads") as cb,
        ):
            for watcher in (alice, alice_on_b, bob):
                await wait_nodes(watcher, me(alice), 2)
            await wait_online(alice, me(bob))
            await wait_online(alice_on_b, me(bob))
            first = await send_acked(cb, me(alice), "one")
            second = await send_acked(cb, me(alice), "two")
            # alice reads on node a: her laptop on node b and bob on node c hear it
            await phone.send(Message(type=FrameType.READ, to=me(bob), messageType=1, id=first))
            mine = (me(alice), me(bob), first, 1)
            assert read_of(await next_frame(phone, FrameType.READ)) == mine
            assert read_of(await next_frame(laptop, FrameType.READ)) == mine
            assert read_of(await next_frame(cb, FrameType.READ)) == (me(alice), me(bob), first, 0)
            # over HTTP on node c, where she has no session: pushed to nodes a and b
            answer = await bob.request("GET", "/conversations")
            assert answer["items"][0]["peerReadId"] == first
            async with ChatClient(c.url) as alice_on_c:
                await alice_on_c.login(alice.me.username, PASSWORD)
                moved = await alice_on_c.request(
                    "PUT", f"/conversations/user/{me(bob)}/read", json={"id": second}
                )
                assert moved == {"readId": second, "unread": 0, "moved": True}
                done = (me(alice), me(bob), second, 0)
                for conn in (phone, laptop):
                    assert read_of(await next_frame(conn, FrameType.READ)) == done
                assert (await next_frame(cb, FrameType.READ)).id == second
                # a mute on node c reaches her sessions on a and b
                await alice_on_c.request(
                    "PUT", f"/conversations/user/{me(bob)}/mute", json={"muted": True}
                )
                for conn in (phone, laptop):
                    pushed = await next_frame(conn, FrameType.MUTE)
                    assert (pushed.to, pushed.muted) == (me(bob), True)
                listed = await alice_on_c.request("GET", "/conversations")
                entry = listed["items"][0]
                assert (entry["uuid"], entry["readId"], entry["unread"], entry["muted"]) == (
                    me(bob), second, 0, True,
                )
