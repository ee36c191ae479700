"""Database faults while messages flow, on a real MariaDB.

The rule: a sender gets an ack only for a message that is committed, and an
error frame (code 503) for one that could not be stored; nothing is dropped
without a word; sessions stay up through the outage; the server recovers by
itself when the database is back; every acked message is there afterwards.

Two ways to lose the database: MariaDB stopped and started again (the server
process goes away, every pooled connection dies), and the server's connections
killed with KILL (the server stays up). The restart runs on a MariaDB of the
test's own (``own_mariadb``: own data directory and port), never the shared
one, so no other test waits out the outage. The KILLs go to the shared server,
but only to connections that have this run's throwaway database open, which
only this test's server has at that moment: other runs are untouched.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pytest
import trio

from chat_trio.client import Connection
from chat_trio.config import MysqlConfig
from chat_trio.model import FrameType
from tests.conftest import MakeUser, Server, befriend, emptied_mysql, mysql_admin
from tests.instances import MariadbInstance
from tests.test_socket import welcome

#: Hang guard for the flow (real clock), never a speed assertion.
TEST_LIMIT = 120

pytestmark = [
    pytest.mark.parametrize("backend", ["mysql"]),
    pytest.mark.time_limit(TEST_LIMIT + 60),
]


@pytest.fixture
def server_limits() -> dict[str, object]:
    # The flow outruns the per-session rate limit on purpose; its 429s are tested elsewhere.
    return {"messages_per_second": 100_000.0, "message_burst": 100_000}


@pytest.fixture
def database_config(backend: str, request: pytest.FixtureRequest) -> MysqlConfig:
    """The run's shared tables, emptied; for a test that asks for ``own_mariadb``,
    a database on that instance instead."""
    if "own_mariadb" in request.fixturenames:
        own: MariadbInstance = request.getfixturevalue("own_mariadb")
        config = own.config("chat_trio_faults")
        with mysql_admin(config) as conn, conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{config.name}` CHARACTER SET utf8mb4")
        return config
    return emptied_mysql(request.getfixturevalue("mysql_database"))


def kill_connections_for(config: MysqlConfig, seconds: float) -> int:
    """KILL every connection that has the test database open, again and again for
    ``seconds`` (in a worker thread); returns how many were killed."""
    killed = 0
    deadline = time.monotonic() + seconds
    with mysql_admin(config) as conn, conn.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT ID FROM information_schema.PROCESSLIST "
                "WHERE DB = %s AND ID <> CONNECTION_ID()",
                (config.name,),
            )
            for (thread_id,) in cursor.fetchall():
                cursor.execute(f"KILL {int(thread_id)}")
                killed += 1
            time.sleep(0.02)
    return killed


def stored_messages(config: MysqlConfig) -> dict[int, str]:
    """Every message row of the test's tables: id -> content."""
    with mysql_admin(config) as conn, conn.cursor() as cursor:
        cursor.execute(f"SELECT id, content FROM `{config.name}`.`{config.table_prefix}messages`")
        return {int(row[0]): str(row[1]) for row in cursor.fetchall()}


@dataclass
class Flow:
    """Messages sent by one connection and what the server answered for each."""

    sent: dict[str, str] = field(default_factory=dict)  # client id -> content
    acked: dict[str, int] = field(default_factory=dict)  # client id -> message id
    refused: dict[str, int] = field(default_factory=dict)  # client id -> error code
    pongs: int = 0
    changed: trio.Event = field(default_factory=trio.Event)

    def answered(self) -> set[str]:
        return set(self.acked) | set(self.refused)

    def note(self) -> None:
        self.changed.set()
        self.changed = trio.Event()


async def read_answers(conn: Connection, flow: Flow) -> None:
    async for message in conn:
        if message.type == FrameType.ACK:
            flow.acked[message.clientId] = message.id
        elif message.type == FrameType.ERROR:
            flow.refused[message.clientId] = message.code
        elif message.type == FrameType.HEARTBEAT and message.content == "pong":
            flow.pongs += 1
        flow.note()


async def wait_until(flow: Flow, done: Callable[[], bool]) -> None:
    while not done():
        await flow.changed.wait()


async def run_fault(
    server: Server,
    make_user: MakeUser,
    fault: Callable[[MysqlConfig, Flow], Awaitable[None]],
    *,
    refusals_expected: bool = True,
) -> Flow:
    """Send a steady stream of messages, call ``fault`` midway, keep sending until
    messages are acked again, then check the rule. Returns the flow."""
    config = server.config.mysql
    a, b = await make_user(), await make_user()
    await befriend(a, b)
    flow = Flow()
    numbers = itertools.count()
    with trio.fail_after(TEST_LIMIT):
        async with a.api.connect() as ca, b.api.connect() as cb, trio.open_nursery() as nursery:
            await welcome(ca)
            await welcome(cb)
            nursery.start_soon(read_answers, ca, flow)

            async def send_some(count: int) -> None:
                for _ in range(count):
                    n = next(numbers)
                    cid, content = f"c{n}", f"message {n} 😀"
                    flow.sent[cid] = content
                    await ca.send_text(b.uuid, content, client_id=cid)
                    await trio.sleep(0.005)

            async def keep_sending(stop: trio.Event) -> None:
                while not stop.is_set():
                    await send_some(1)

            await send_some(20)
            await wait_until(flow, lambda: len(flow.acked) >= 20)
            acked_before = len(flow.acked)

            stop = trio.Event()
            nursery.start_soon(keep_sending, stop)
            await fault(config, flow)
            if refusals_expected:  # some messages were refused while it was away ...
                await wait_until(flow, lambda: bool(flow.refused))
            # ... and once it is back, messages are acked again without any help
            mark = len(flow.sent)
            await wait_until(
                flow, lambda: any(int(c[1:]) > mark for c in flow.acked)
            )
            stop.set()
            await send_some(10)
            # the session lived through it all
            await ca.heartbeat()
            pongs = flow.pongs
            await wait_until(flow, lambda: flow.pongs > pongs)
            # every message got an answer: nothing silently dropped
            await wait_until(flow, lambda: flow.answered() == set(flow.sent))
            nursery.cancel_scope.cancel()

    assert len(flow.acked) > acked_before
    assert not set(flow.acked) & set(flow.refused)
    assert set(flow.refused.values()) <= {503}
    assert bool(flow.refused) or not refusals_expected
    # every acked message is in the database, with its id and its content
    stored = await trio.to_thread.run_sync(stored_messages, config)
    for cid, message_id in flow.acked.items():
        assert stored.get(message_id) == flow.sent[cid], cid
    print(f"sent {len(flow.sent)}, acked {len(flow.acked)}, refused {len(flow.refused)}")
    return flow


async def test_mariadb_restart_while_messages_flow(
    own_mariadb: MariadbInstance, server: Server, make_user: MakeUser
) -> None:
    async def restart(config: MysqlConfig, flow: Flow) -> None:
        try:
            await trio.to_thread.run_sync(own_mariadb.stop)
            # messages keep coming while it is down, until some were refused
            refused = len(flow.refused)
            await wait_until(flow, lambda: len(flow.refused) >= refused + 5)
        finally:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(own_mariadb.start)

    await run_fault(server, make_user, restart)


async def test_connections_killed_while_messages_flow(server: Server, make_user: MakeUser) -> None:
    killed = 0

    async def kill(config: MysqlConfig, flow: Flow) -> None:
        # for a second, KILL the server's connections as soon as they appear: the
        # ones caught inside a batch fail it; pre-ping replaces the others unnoticed
        nonlocal killed
        killed = await trio.to_thread.run_sync(kill_connections_for, config, 1.0)

    await run_fault(server, make_user, kill, refusals_expected=False)
    assert killed > 0
