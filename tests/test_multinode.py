"""Several server processes as one chat server, on the real Redis and MariaDB.

Three nodes (real ``python -m chat_trio serve`` processes on their own ports)
share one throwaway MariaDB database and one Redis key prefix made for this run,
so parallel runs do not collide. Clients talk to different nodes and must see
each other as if there were one server; a node killed with SIGKILL loses its
users' presence and nothing stored; a Redis restart stops cross-node delivery
only for its duration. The restart is done to a Redis of the test's own
(``own_redis``, with two nodes of its own), never to the shared one. Every wait
is bounded with ``trio.fail_after``.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pymysql
import pytest
import trio

from chat_trio.client import ChatClient, Connection, Message
from chat_trio.model import ContentType, FrameType
from chat_trio.presence import GRACE
from tests.conftest import PASSWORD
from tests.instances import RedisInstance
from tests.test_cli import cli_env, free_port

pytestmark = [pytest.mark.multinode, pytest.mark.mysql]

REDIS_URL = "redis://127.0.0.1:6379/0"
#: Seconds any one step may take before the test counts as hung.
STEP = 20


def _mysql() -> pymysql.Connection[pymysql.cursors.Cursor]:
    return pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")


@dataclass
class Node:
    name: str
    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the process and wait for /readyz."""
        deadline = time.monotonic() + 60
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "chat_trio", "serve", "--port", str(self.port)],
                env=self.env, cwd=self.log.parent, stdout=out, stderr=subprocess.STDOUT,
            )
        if not self._wait_ready(deadline):
            raise RuntimeError(f"node {self.name} did not become ready: see {self.log}")

    def _wait_ready(self, deadline: float) -> bool:
        assert self.process is not None
        with httpx.Client() as http:
            while time.monotonic() < deadline and self.process.poll() is None:
                try:
                    if http.get(f"{self.url}/readyz").status_code == 200:
                        return True
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        self.kill()
        return False

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Cluster:
    base_env: dict[str, str]
    root: Path
    nodes: list[Node] = field(default_factory=list)

    def add(self, name: str) -> Node:
        node = Node(name, free_port(), self.base_env, self.root / f"{name}.log")
        node.start()
        self.nodes.append(node)
        return node


@contextlib.contextmanager
def running_cluster(root: Path, redis_url: str, names: tuple[str, ...]) -> Iterator[Cluster]:
    """Nodes ``names`` on their own throwaway database, sharing Redis ``redis_url``
    under a key prefix of their own; stopped and the database dropped on exit."""
    run = uuid.uuid4().hex[:10]
    database = f"chat_trio_nodes_{run}"
    with contextlib.closing(_mysql()) as db, db.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
    env = {
        **cli_env(root),
        "CHAT_TRIO_DATABASE_BACKEND": "mysql",
        "CHAT_TRIO_MYSQL_NAME": database,
        "CHAT_TRIO_MSGCHANNELTYPE_CHANNELTYPE": "redis",
        "CHAT_TRIO_MSGCHANNELTYPE_REDISURL": redis_url,
        "CHAT_TRIO_MSGCHANNELTYPE_REDISPREFIX": f"chat_trio_test_{run}",
        "CHAT_TRIO_AUTH_ARGON2PARALLELISM": "1",
        "CHAT_TRIO_LIMITS_MESSAGESPERSECOND": "100000",
        "CHAT_TRIO_LIMITS_MESSAGEBURST": "100000",
        "CHAT_TRIO_LOG_LEVEL": "info",
    }
    cluster = Cluster(env, root)
    try:
        for name in names:
            cluster.add(name)
        yield cluster
    finally:
        for node in cluster.nodes:
            node.stop()
        with contextlib.closing(_mysql()) as db, db.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{database}`")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Three nodes on the shared Redis, for the whole module."""
    with running_cluster(tmp_path_factory.mktemp("nodes"), REDIS_URL, ("a", "b", "c")) as nodes:
        yield nodes


@pytest.fixture
def own_redis_cluster(
    own_redis: RedisInstance, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    """Two nodes on a Redis of the test's own, which the test may stop and start."""
    with running_cluster(tmp_path_factory.mktemp("nodes"), own_redis.url, ("a", "b")) as nodes:
        yield nodes


def _name(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


@contextlib.asynccontextmanager
async def user_on(node: Node, name: str | None = None) -> AsyncIterator[ChatClient]:
    async with ChatClient(node.url) as api:
        await api.signup(name or _name("u"), PASSWORD)
        yield api


def me(api: ChatClient) -> str:
    assert api.me is not None
    return api.me.uuid


async def online(api: ChatClient, user_uuid: str) -> bool:
    answer = await api.request("GET", "/user/online", params={"uuid": user_uuid})
    return bool(answer["online"])


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    """Ask another process again until it says yes (it has no event to wait on)."""
    with trio.fail_after(STEP):
        while not await check():  # noqa: ASYNC110
            await trio.sleep(0.05)


async def wait_online(api: ChatClient, user_uuid: str, expected: bool = True) -> None:
    """Until the node ``api`` talks to sees ``user_uuid`` online (or offline)."""

    async def check() -> bool:
        return await online(api, user_uuid) == expected

    await until(check)


async def wait_nodes(api: ChatClient, user_uuid: str, nodes: int) -> None:
    """Until the node ``api`` talks to sees ``user_uuid`` on ``nodes`` nodes."""

    async def check() -> bool:
        answer = await api.request("GET", "/user/online", params={"uuid": user_uuid})
        return int(answer["nodes"]) == nodes

    await until(check)


async def ready(url: str, status: int = 200) -> None:
    """Until the node's /readyz answers ``status``."""
    async with httpx.AsyncClient() as http:

        async def check() -> bool:
            return (await http.get(f"{url}/readyz")).status_code == status

        await until(check)


async def expect(conn: Connection, *contents: str) -> None:
    """Receive chat frames until all of ``contents`` arrived (others are ignored)."""
    missing = set(contents)
    with trio.fail_after(STEP):
        while missing:
            frame = await conn.receive_chat()
            missing.discard(frame.content)


async def send_acked(conn: Connection, to: str, content: str, *, group: bool = False) -> int:
    """Send a text and wait for its ack; returns the stored id."""
    client_id = await conn.send_text(to, content, group=group)
    with trio.fail_after(STEP):
        while True:
            frame = await conn.receive()
            if frame.type == FrameType.ACK and frame.clientId == client_id:
                return int(frame.id)


async def test_one_to_one_between_nodes(cluster: Cluster) -> None:
    a, b = cluster.nodes[0], cluster.nodes[1]
    async with (
        user_on(a) as alice, user_on(b) as bob, alice.connect() as ca, bob.connect() as cb,
    ):
        await wait_online(alice, me(bob))
        await wait_online(bob, me(alice))
        await send_acked(ca, me(bob), "hello from node a")
        await expect(cb, "hello from node a")
        await send_acked(cb, me(alice), "hello back from node b")
        await expect(ca, "hello back from node b")
        # signaling is relayed, never stored, and crosses nodes the same way
        offer = '{"type":"offer","sdp":"v=0"}'
        await ca.send(Message(to=me(bob), type=FrameType.WEBRTC, content=offer, messageType=1))
        with trio.fail_after(STEP):
            relayed = await cb.receive_chat()
        assert (relayed.type, relayed.content, getattr(relayed, "from")) == (
            FrameType.WEBRTC, offer, me(alice),
        )
    async with httpx.AsyncClient() as http:
        exposition = (await http.get(f"{b.url}/metrics")).text
    assert "chat_trio_bus_connected 1.0" in exposition
    assert "chat_trio_bus_nodes 3.0" in exposition
    received = next(
        line for line in exposition.splitlines() if line.startswith("chat_trio_bus_received")
    )
    assert float(received.split()[-1]) >= 2


async def test_group_spread_over_three_nodes(cluster: Cluster) -> None:
    a, b, c = cluster.nodes[:3]
    async with user_on(a) as owner, user_on(b) as second, user_on(c) as third:
        await owner.request("POST", f"/group/{me(owner)}", json={"name": _name("g"), "notice": ""})
        groups = await owner.request("GET", f"/group/{me(owner)}")
        group = str(groups[0]["uuid"])
        for member in (second, third):
            await member.request("POST", f"/group/join/{me(member)}/{group}")
        users = (owner, second, third)
        async with owner.connect() as c1, second.connect() as c2, third.connect() as c3:
            for watcher in users:
                for other in users:
                    if other is not watcher:
                        await wait_online(watcher, me(other))
            conns = (c1, c2, c3)
            for i, conn in enumerate(conns):
                # no waiting for acks here: that would read past the others' messages
                await conn.send_text(group, f"group message {i}", group=True)
            for i, conn in enumerate(conns):
                await expect(conn, *(f"group message {j}" for j in range(3) if j != i))


async def test_same_user_on_two_nodes(cluster: Cluster) -> None:
    a, b, c = cluster.nodes[:3]
    async with user_on(a) as alice, user_on(b) as bob, ChatClient(c.url) as bob_elsewhere:
        await bob_elsewhere.login(bob.me.username if bob.me else "", PASSWORD)
        async with (
            alice.connect() as ca, bob.connect() as on_b, bob_elsewhere.connect() as on_c,
        ):
            await wait_nodes(alice, me(bob), 2)
            await wait_nodes(bob, me(bob), 2)
            await wait_nodes(bob_elsewhere, me(bob), 2)
            await wait_online(bob, me(alice))
            await send_acked(ca, me(bob), "to both of bob's sessions")
            await expect(on_b, "to both of bob's sessions")
            await expect(on_c, "to both of bob's sessions")
            # what bob sends from node b reaches alice on a and his own session on c
            await send_acked(on_b, me(alice), "bob from node b")
            await expect(ca, "bob from node b")
            with trio.fail_after(STEP):
                own = await on_c.receive_chat()
            # filed as his own, in the conversation with alice (docs/protocol.md)
            assert (own.content, getattr(own, "from"), own.to) == (
                "bob from node b", me(bob), me(alice),
            )


async def test_presence_follows_sessions_across_nodes(cluster: Cluster) -> None:
    a, b = cluster.nodes[0], cluster.nodes[1]
    async with user_on(a) as watcher, user_on(b) as carol:
        assert not await online(watcher, me(carol))
        async with carol.connect():
            await wait_online(watcher, me(carol))
            async with carol.connect():
                pass  # a second session closing leaves her online
            assert await online(watcher, me(carol))
        await wait_online(watcher, me(carol), expected=False)


async def test_killed_node_users_reconnect_elsewhere_and_catch_up(cluster: Cluster) -> None:
    a = cluster.nodes[0]
    doomed = cluster.add("doomed")
    async with user_on(a) as alice, user_on(doomed) as bob:
        live: set[int] = set()
        acked: set[int] = set()
        async with alice.connect() as ca:
            async with bob.connect() as cb:
                await wait_online(alice, me(bob))
                for i in range(20):
                    acked.add(await send_acked(ca, me(bob), f"before the kill {i}"))
                with trio.fail_after(STEP):
                    while len(live) < 20:
                        live.add(int((await cb.receive_chat()).id))
                doomed.kill()
            # bob's presence expires with the dead node's liveness key
            await wait_online(alice, me(bob), expected=False)
            for i in range(20):
                acked.add(await send_acked(ca, me(bob), f"while bob is away {i}"))
        # bob reconnects to a surviving node with the same token and catches up
        bob.http.base_url = httpx.URL(cluster.nodes[1].url)
        bob.base_url = cluster.nodes[1].url
        async with bob.connect():
            caught_up = {int(str(m["id"])) for m in await bob.since(max(live))}
        assert live | caught_up >= acked
        assert caught_up & acked == acked - live


async def test_redis_restart_resumes_delivery_and_loses_nothing(
    own_redis: RedisInstance, own_redis_cluster: Cluster
) -> None:
    a, b = own_redis_cluster.nodes[0], own_redis_cluster.nodes[1]
    async with user_on(a) as alice, user_on(b) as bob:
        received: set[int] = set()
        acked: set[int] = set()
        async with alice.connect() as ca, bob.connect() as cb:
            await wait_online(alice, me(bob))

            async def collect(until: int) -> None:
                with trio.fail_after(STEP):
                    while len(received & acked) < until:
                        received.add(int((await cb.receive_chat()).id))

            for i in range(10):
                acked.add(await send_acked(ca, me(bob), f"before the restart {i}"))
            await collect(10)

            await trio.to_thread.run_sync(own_redis.stop)
            try:
                await ready(a.url, 503)
                async with httpx.AsyncClient() as http:
                    report = (await http.get(f"{a.url}/readyz")).json()
                    assert report["checks"]["bus"].startswith("unreachable")
                    assert report["checks"]["database"] == "ok"
                # the node still serves its own sessions and stores what it is sent
                for i in range(10):
                    acked.add(await send_acked(ca, me(bob), f"during the outage {i}"))
            finally:
                with trio.CancelScope(shield=True):
                    await trio.to_thread.run_sync(own_redis.start)
            for node in (a, b):
                await ready(node.url)
            await wait_online(alice, me(bob))
            after = {await send_acked(ca, me(bob), f"after the restart {i}") for i in range(10)}
            acked |= after
            last = max(acked)
            with trio.fail_after(STEP):
                while last not in received:
                    received.add(int((await cb.receive_chat()).id))
        stored = {int(str(m["id"])) for m in await bob.since(0)}
        assert acked <= stored  # nothing acked is lost, outage or not
        assert after <= received  # and live delivery resumed for every message, not only the last


async def test_a_call_across_nodes_rings_both_devices_and_stays_on_the_one_that_answered(
    cluster: Cluster,
) -> None:
    """Caller on node a, callee on nodes b and c: each node routes by its own call
    state; the answer on b silences c, and c's stray reject does not end the call."""
    a, b, c = cluster.nodes[:3]
    async with user_on(a) as alice, user_on(b) as bob, ChatClient(c.url) as bob_elsewhere:
        await bob_elsewhere.login(bob.me.username if bob.me else "", PASSWORD)
        async with (
            alice.connect() as ca, bob.connect() as on_b, bob_elsewhere.connect() as on_c,
        ):
            await wait_nodes(alice, me(bob), 2)
            for api in (bob, bob_elsewhere):
                await wait_nodes(api, me(bob), 2)
                await wait_online(api, me(alice))
            dial = Message(to=me(bob), contentType=ContentType.VIDEO_DIAL, messageType=1)
            await ca.send(dial)
            for device in (on_b, on_c):
                with trio.fail_after(STEP):
                    assert (await device.receive_chat()).contentType == ContentType.VIDEO_DIAL
            await on_b.send(Message(to="", contentType=ContentType.VIDEO_ACCEPT, messageType=1))
            with trio.fail_after(STEP):
                accepted = await ca.receive_chat()
                told = await on_c.receive_chat()
            assert (accepted.contentType, getattr(accepted, "from")) == (
                ContentType.VIDEO_ACCEPT, me(bob),
            )
            assert (told.contentType, told.reason) == (
                ContentType.VIDEO_CANCEL, "answered-elsewhere",
            )
            # c's stray reject stays on c: what c sends next is what alice gets next
            await on_c.send(Message(to=me(alice), contentType=ContentType.VIDEO_REJECT,
                                    messageType=1))
            await send_acked(on_c, me(alice), "after the stray reject")
            with trio.fail_after(STEP):
                assert (await ca.receive_chat()).content == "after the stray reject"
                assert (await on_b.receive_chat()).content == "after the stray reject"
            # alice's offer reaches b only: on c, the next frame is the text after it
            offer = '{"type":"offer","sdp":"v=0"}'
            await ca.send(Message(to=me(bob), type=FrameType.WEBRTC, content=offer, messageType=1))
            await send_acked(ca, me(bob), "after the offer")
            with trio.fail_after(STEP):
                assert (await on_b.receive_chat()).content == offer
                assert (await on_c.receive_chat()).content == "after the offer"
            answer = '{"type":"answer","sdp":"v=0"}'
            await on_b.send(Message(to="", type=FrameType.WEBRTC, content=answer))
            with trio.fail_after(STEP):
                got = await ca.receive_chat()
                while got.content != answer:
                    got = await ca.receive_chat()
            assert (getattr(got, "from"), got.to) == (me(bob), me(alice))
            await on_b.ws.aclose()
            with trio.fail_after(STEP):
                ended = await ca.receive_chat()
            assert (ended.contentType, ended.reason) == (ContentType.VIDEO_CANCEL, "disconnected")


async def presence_of(conn: Connection) -> Message:
    """The next presence frame (the grace period of a departure included)."""
    with trio.fail_after(STEP):
        while True:
            frame = await conn.receive()
            if frame.type == "presence":
                return frame


async def test_presence_and_typing_cross_nodes_and_last_seen_is_shared(cluster: Cluster) -> None:
    """alice on nodes a and c, her friend bob on b, her group's carol on c: one arrival,
    no departure while a session is left anywhere, then one departure with last seen."""
    a, b, c = cluster.nodes[:3]
    async with (
        user_on(a) as alice, user_on(b) as bob, user_on(c) as carol,
        ChatClient(c.url) as alice_elsewhere,
    ):
        await alice_elsewhere.login(alice.me.username if alice.me else "", PASSWORD)
        bob_name = bob.me.username if bob.me else ""
        await alice.request("POST", "/friend", json={"friendUsername": bob_name})
        alice_name = alice.me.username if alice.me else ""
        # the second add accepts the first: now they are friends
        await bob.request("POST", "/friend", json={"friendUsername": alice_name})
        await carol.request("POST", f"/group/{me(carol)}", json={"name": _name("g"), "notice": ""})
        group = str((await carol.request("GET", f"/group/{me(carol)}"))[0]["uuid"])
        await alice.request("POST", f"/group/join/{me(alice)}/{group}")
        async with (
            bob.connect(features="presence,typing") as cb,
            carol.connect(features="presence,typing") as cc,
        ):
            for other in (bob, carol):
                await wait_online(alice, me(other))
            async with alice.connect(features="presence") as on_a:
                for watcher in (cb, cc):
                    arrived = await presence_of(watcher)
                    assert (getattr(arrived, "from"), arrived.content) == (me(alice), "online")
                await wait_online(alice_elsewhere, me(alice))
                async with alice_elsewhere.connect(features="presence"):  # on node c
                    await wait_nodes(bob, me(alice), 2)
                    await on_a.ws.aclose()  # her session on a ends; the one on c stays
                    await wait_nodes(bob, me(alice), 1)
                    await cb.send(Message(type="typing", to=me(carol), messageType=1))
                    with trio.fail_after(STEP):
                        typing = await cc.receive()
                        while typing.type != "typing":
                            typing = await cc.receive()
                    assert (getattr(typing, "from"), typing.to) == (me(bob), me(carol))
                    # Nothing to wait for: the point is that node a says nothing when
                    # its grace period for alice ends while she is still on node c.
                    await trio.sleep(GRACE + 0.5)
                    await cb.heartbeat()
                    with trio.fail_after(STEP):
                        assert (await cb.receive()).content == "pong"  # no presence frame
                    left_at = int(time.time() * 1000)
            for watcher in (cb, cc):
                left = await presence_of(watcher)  # the first one since the arrival
                assert (getattr(left, "from"), left.content) == (me(alice), "offline")
                assert left.lastSeen >= left_at
            listing = await bob.request("GET", "/presence")
            assert {"uuid": me(alice), "online": False, "lastSeen": left.lastSeen} in listing
