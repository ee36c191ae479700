"""Operations endpoints and logs: health, readiness, metrics, JSON log lines."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pymysql
import pytest
import trio

from chat_trio.logs import JsonFormatter
from chat_trio.model import FrameType
from tests.conftest import MakeUser, Server, server_config, start_server
from tests.test_socket import welcome

MARIADB = ("127.0.0.1", 3306)


async def test_healthz_and_readyz(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        health = await http.get("/healthz")
        ready = await http.get("/readyz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "bus": "ok"}}


def metric(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_metrics_change_when_messages_flow(server: Server, make_user: MakeUser) -> None:
    a, b = await make_user(), await make_user()
    async with httpx.AsyncClient(base_url=server.url) as http:
        before = (await http.get("/metrics")).text
        async with a.api.connect() as ca, b.api.connect() as cb:
            await welcome(ca)
            await welcome(cb)
            assert metric((await http.get("/metrics")).text, "chat_trio_sessions_open") == 2
            for i in range(3):
                await ca.send_text(b.uuid, f"counted {i}")
                assert (await ca.receive()).type == FrameType.ACK
                await cb.receive()
        response = await http.get("/metrics")
    after = response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert metric(after, 'chat_trio_messages_received_total{kind="text"}') == 3
    assert metric(after, 'chat_trio_messages_stored_total{content_type="1"}') == 3
    assert metric(after, "chat_trio_delivery_latency_seconds_count") == 3
    assert metric(after, "chat_trio_messages_delivered_total") >= 5  # 2 welcomes, 3 messages
    assert metric(after, "chat_trio_store_batch_size_count") >= 1
    assert metric(after, 'chat_trio_http_requests_total{method="GET",route="/metrics"') >= 2
    assert metric(before, "chat_trio_messages_stored_total") == 0


def test_json_log_lines_are_json_with_extras() -> None:
    record = logging.makeLogRecord(
        {"name": "chat_trio.session", "levelno": logging.INFO, "levelname": "INFO",
         "msg": "session %s open", "args": (7,), "user": "u-1", "session": 7}
    )
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["message"] == "session 7 open"
    assert (entry["level"], entry["logger"], entry["user"], entry["session"]) == (
        "info", "chat_trio.session", "u-1", 7,
    )
    assert "\n" not in line


class TcpProxy:
    """Forwards 127.0.0.1:<port> to MariaDB until stopped: the database, as the
    server sees it, can then be 'stopped' without touching the shared server."""

    def __init__(self) -> None:
        self.port = 0
        self._scope = trio.CancelScope()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        with self._scope:
            listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
            self.port = listeners[0].socket.getsockname()[1]
            async with trio.open_nursery() as nursery:
                task_status.started()
                await trio.serve_listeners(self._handle, listeners, handler_nursery=nursery)

    async def _handle(self, client: trio.SocketStream) -> None:
        async with client, await trio.open_tcp_stream(*MARIADB) as upstream:

            async def pipe(a: trio.SocketStream, b: trio.SocketStream) -> None:
                async for chunk in a:
                    await b.send_all(chunk)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(pipe, client, upstream)
                await pipe(upstream, client)
                nursery.cancel_scope.cancel()

    def stop(self) -> None:
        self._scope.cancel()


@pytest.fixture
def mariadb_database() -> Iterator[str]:
    name = f"chat_trio_ops_{secrets.token_hex(4)}"
    connection = pymysql.connect(host=MARIADB[0], port=MARIADB[1], user="root")
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    yield name
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name}")
    connection.close()


@pytest.fixture
async def behind_proxy(
    nursery: trio.Nursery, tmp_path: Path, mariadb_database: str
) -> tuple[TcpProxy, Server]:
    """A server on MariaDB through a proxy the test can stop ("the database is gone")."""
    proxy = TcpProxy()
    await nursery.start(proxy.run)
    config = server_config(tmp_path).replace("database", backend="mysql").replace(
        "mysql", port=proxy.port, name=mariadb_database, timeout=2.0
    )
    return proxy, await start_server(nursery, config, tmp_path)


async def test_readyz_fails_when_the_database_is_stopped(
    behind_proxy: tuple[TcpProxy, Server],
) -> None:
    proxy, server = behind_proxy
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
        assert (await http.get("/readyz")).status_code == 200
        proxy.stop()
        response = await http.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "not ready"
        assert body["checks"]["database"] != "ok"
        assert (await http.get("/healthz")).status_code == 200  # the process is still up


async def test_a_lookup_during_an_outage_is_a_503_frame_not_a_dead_session(
    behind_proxy: tuple[TcpProxy, Server],
) -> None:
    """A group the caches do not know, looked up while the database is away."""
    from chat_trio.client import ChatClient
    from tests.conftest import PASSWORD

    proxy, server = behind_proxy
    async with ChatClient(server.url) as a:
        await a.signup("during", PASSWORD)
        async with a.connect() as conn:
            await welcome(conn)
            proxy.stop()
            await conn.send_text("a-group-nobody-cached", "hello?", group=True)
            with trio.fail_after(20):
                error = await conn.receive()
            assert (error.type, error.code) == (FrameType.ERROR, 503)
            await conn.heartbeat()
            with trio.fail_after(10):
                assert (await conn.receive()).content == "pong"


async def _metrics_server(
    nursery: trio.Nursery, tmp_path: Path, **server: object
) -> Server:
    config = server_config(tmp_path).replace("server", **server)
    return await start_server(nursery, config, tmp_path)


async def test_metrics_refuse_addresses_not_allowed(nursery: trio.Nursery, tmp_path: Path) -> None:
    server = await _metrics_server(nursery, tmp_path, metrics_allow=())
    async with httpx.AsyncClient(base_url=server.url) as http:
        refused = await http.get("/metrics")
    assert refused.status_code == 401
    assert refused.json()["code"] == -1
    assert "chat_trio_" not in refused.text


async def test_metrics_token_opens_metrics_to_any_address(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    server = await _metrics_server(nursery, tmp_path, metrics_allow=(), metrics_token="s3cret")
    async with httpx.AsyncClient(base_url=server.url) as http:
        with_token = await http.get("/metrics", headers={"Authorization": "Bearer s3cret"})
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer s3cre"})
        without = await http.get("/metrics")
    assert with_token.status_code == 200
    assert "chat_trio_sessions_open" in with_token.text
    assert (wrong.status_code, without.status_code) == (401, 401)


@pytest.mark.parametrize("trusted", [True, False])
async def test_metrics_allow_list_uses_the_forwarded_client_address(
    nursery: trio.Nursery, tmp_path: Path, trusted: bool
) -> None:
    server = await _metrics_server(
        nursery, tmp_path, metrics_allow=("10.0.0.0/8",),
        trusted_proxies=("127.0.0.1",) if trusted else (),
    )
    async with httpx.AsyncClient(base_url=server.url) as http:
        inside = await http.get("/metrics", headers={"X-Forwarded-For": "10.1.2.3"})
        outside = await http.get("/metrics", headers={"X-Forwarded-For": "203.0.113.5"})
        direct = await http.get("/metrics")  # 127.0.0.1 is not in the list here
    assert outside.status_code == 401
    assert direct.status_code == 401
    assert inside.status_code == (200 if trusted else 401)
