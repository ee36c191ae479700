"""Friend events and blocks across nodes, through the real Redis and MariaDB.

The same three-node cluster as tests/test_multinode.py. A request made over
HTTP on one node reaches the other user's sessions on two other nodes and the
actor's own session on a third; the answer travels back the same way. A block
made on one node holds for messages sent through another within the block
cache's freshness (5 s; chat_trio/blocks.py).
"""

from __future__ import annotations

import pytest
import trio

from chat_trio.client import ChatClient, Connection
from chat_trio.model import FrameType
from tests import test_multinode
from tests.conftest import PASSWORD
from tests.test_multinode import STEP, Cluster, me, user_on, wait_nodes
from tests.test_socket import welcome

pytestmark = [pytest.mark.multinode, pytest.mark.mysql]

#: The module-scoped cluster of tests/test_multinode.py, started for this module.
cluster = test_multinode.cluster


async def friend_event(conn: Connection) -> tuple[str, str, str]:
    """(friendEvent, peer, actor) of the next ``friend`` push on ``conn``."""
    with trio.fail_after(STEP):
        while True:
            frame = await conn.receive()
            if frame.type == FrameType.FRIEND:
                return frame.friendEvent, frame.peer, frame.actor


async def test_requests_and_answers_reach_every_node(cluster: Cluster) -> None:
    a, b, c = cluster.nodes[:3]
    async with (
        user_on(a) as alice, user_on(b) as bob,
        ChatClient(c.url) as alice_on_c, ChatClient(c.url) as bob_on_c,
    ):
        await alice_on_c.login(alice.me.username if alice.me else "", PASSWORD)
        await bob_on_c.login(bob.me.username if bob.me else "", PASSWORD)
        async with (
            alice_on_c.connect() as alice_c, bob.connect() as bob_b, bob_on_c.connect() as bob_c,
        ):
            for conn in (alice_c, bob_b, bob_c):
                await welcome(conn)
            await wait_nodes(alice, me(bob), 2)  # node a sees bob on b and c
            await wait_nodes(alice, me(alice), 1)  # and alice on c
            await wait_nodes(bob, me(alice), 1)
            # asked on node a: bob's sessions on b and c, alice's on c
            sent = await alice.request("POST", "/friend/requests", json={"uuid": me(bob)})
            assert sent["status"] == "requested"
            for conn in (bob_b, bob_c):
                assert await friend_event(conn) == ("request", me(alice), me(alice))
            assert await friend_event(alice_c) == ("request", me(bob), me(alice))
            # accepted on node b: alice on c, bob on c (and b, where it was asked)
            await bob.request("POST", f"/friend/requests/{me(alice)}/accept")
            assert await friend_event(alice_c) == ("accept", me(bob), me(bob))
            for conn in (bob_b, bob_c):
                assert await friend_event(conn) == ("accept", me(alice), me(bob))
            friends = await alice_on_c.request("GET", "/user", params={"uuid": me(alice)})
            assert [f["uuid"] for f in friends] == [me(bob)]

            # node b has read bob's blocks (none) for this message, and keeps them
            assert await send_and_wait(bob_b, me(alice)) == "acked"
            # blocked on node a: the bus tells nodes b and c to read the blocks
            # again ahead of the push, so once bob hears the friendship ended, his
            # very next message on node b is refused
            await alice.request("POST", f"/block/{me(bob)}")
            assert await friend_event(alice_c) == ("block", me(bob), me(alice))
            for conn in (bob_b, bob_c):
                assert await friend_event(conn) == ("remove", me(alice), me(alice))
            for conn in (bob_b, bob_c):
                assert "does not accept a message" in await send_and_wait(conn, me(alice))
            # and an unblock on node c holds on node b as soon as node b hears of it
            await alice_on_c.request("DELETE", f"/block/{me(bob)}")
            assert await friend_event(alice_c) == ("unblock", me(bob), me(alice))
            await until_accepted(bob_b, me(alice))


async def send_and_wait(conn: Connection, to: str) -> str:
    """Send one message; "acked" or the error's reason."""
    await conn.send_text(to, "before the block")
    with trio.fail_after(STEP):
        while True:
            frame = await conn.receive()
            if frame.type == FrameType.ACK:
                return "acked"
            if frame.type == FrameType.ERROR:
                return frame.content


async def until_accepted(conn: Connection, to: str) -> None:
    """Send until a message is acked: the unblock is not pushed to the blocked
    user, so there is no event on node b to wait for (bounded by STEP)."""
    with trio.fail_after(STEP):
        while await send_and_wait(conn, to) != "acked":  # noqa: ASYNC110
            await trio.sleep(0.05)  # another process: nothing to wait on here
