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

            # blocked on node a: bob's node b is told the friendship ended, and
            # refuses bob's messages to alice within the cache's freshness
            await alice.request("POST", f"/block/{me(bob)}")
            assert await friend_event(alice_c) == ("block", me(bob), me(alice))
            for conn in (bob_b, bob_c):
                assert await friend_event(conn) == ("remove", me(alice), me(alice))
            await until_refused(bob_b, me(alice))


async def until_refused(conn: Connection, to: str) -> None:
    """Send messages to ``to`` until one is refused with 403 (bounded by STEP)."""
    with trio.fail_after(STEP):
        for attempt in range(10_000):
            await conn.send_text(to, f"try {attempt}", client_id=f"try-{attempt}")
            while True:
                frame = await conn.receive()
                if frame.type == FrameType.ERROR:
                    assert frame.code == 403 and "does not accept" in frame.content
                    return
                if frame.type == FrameType.ACK:
                    break
            await trio.sleep(0.2)  # another process's cache: nothing to wait on here
