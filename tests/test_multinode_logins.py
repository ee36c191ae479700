"""Ending a login on one node ends it on every node, through the real Redis.

The same three-node cluster as tests/test_multinode.py (real server processes
on the real Redis and MariaDB). A logout or a password change on one node
closes, with 1008, the sessions opened with those logins on the other nodes,
and their token caches drop the logins at once, not 30 s later.
"""

from __future__ import annotations

import httpx
import pytest
import trio_websocket

from chat_trio.client import ChatClient
from tests import test_multinode
from tests.conftest import PASSWORD
from tests.test_logins import closed_with, still_open
from tests.test_multinode import STEP, Cluster, user_on, wait_online
from tests.test_socket import welcome

pytestmark = pytest.mark.multinode

#: The module-scoped cluster of tests/test_multinode.py, started for this module.
cluster = test_multinode.cluster


async def test_logout_on_one_node_closes_the_session_on_another(cluster: Cluster) -> None:
    a, b = cluster.nodes[0], cluster.nodes[1]
    async with user_on(a) as alice, ChatClient(b.url) as elsewhere:
        assert alice.me is not None
        token = alice.me.token
        async with elsewhere.connect(token=token) as conn:
            await welcome(conn)
            # node b has checked (and cached) the token
            async with httpx.AsyncClient(base_url=b.url) as http:
                headers = {"Authorization": f"Bearer {token}"}
                assert (await http.get("/user/me", headers=headers)).status_code == 200
                await alice.request("POST", "/user/logout")
                assert await closed_with(conn, within=STEP) == (1008, "login revoked")
                assert (await http.get("/user/me", headers=headers)).status_code == 401


async def test_password_change_on_one_node_closes_other_logins_on_others(
    cluster: Cluster,
) -> None:
    a, b, c = cluster.nodes[:3]
    async with (
        user_on(a) as alice, ChatClient(b.url) as phone, ChatClient(c.url) as desk,
    ):
        assert alice.me is not None
        await phone.login(alice.me.username, PASSWORD)
        async with (
            phone.connect() as on_phone,
            desk.connect(token=alice.me.token) as on_desk,  # the changing login, on c
        ):
            await welcome(on_phone)
            await welcome(on_desk)
            await wait_online(alice, alice.me.uuid)
            await alice.request(
                "PUT", "/user", json={"password": "changed on node a", "oldPassword": PASSWORD},
            )
            assert await closed_with(on_phone, within=STEP) == (1008, "login revoked")
            await still_open(on_desk)
        with pytest.raises(trio_websocket.ConnectionRejected) as refused:
            async with phone.connect():
                pass
        assert refused.value.status_code == 401
