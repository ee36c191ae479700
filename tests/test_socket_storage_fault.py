"""A WebSocket handshake whose token cannot be checked because the database fails
is refused with 503 and a message to try again, not left hanging or closed
without a word; the server goes on answering (SQLite and MariaDB)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import trio
import trio_websocket

from chat_trio.client import ChatClient
from chat_trio.config import MysqlConfig
from chat_trio.storage.schema import build_schema
from tests.conftest import PASSWORD, Server, fresh_mysql, mysql_admin, server_config, start_server


@pytest.fixture
async def server(
    nursery: trio.Nursery, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> Server:
    """Tables of this test's own: the test drops one."""
    mysql = None
    if backend == "mysql":
        mysql = fresh_mysql(request.getfixturevalue("mysql_database"))
    return await start_server(nursery, server_config(tmp_path, mysql=mysql), tmp_path)


def drop_logins(server: Server) -> None:
    """The database loses the table of logins (what a broken database looks like)."""
    config = server.config
    if config.database.backend == "mysql":
        mysql: MysqlConfig = config.mysql
        table = build_schema(mysql.table_prefix).sessions.name
        with mysql_admin(mysql) as conn, conn.cursor() as cursor:
            cursor.execute(f"DROP TABLE `{mysql.name}`.`{table}`")
    else:
        with sqlite3.connect(config.sqlite.path, timeout=10) as conn:
            conn.execute("DROP TABLE sessions")
        conn.close()


async def test_a_handshake_the_database_cannot_check_gets_503(server: Server) -> None:
    api = ChatClient(server.url)
    try:
        me = await api.signup("alice", PASSWORD)
        await trio.to_thread.run_sync(drop_logins, server)
        with pytest.raises(trio_websocket.ConnectionRejected) as refused:
            # a token the server has not cached: its check goes to the database
            async with api.connect(token="x" * 43, user=me.uuid):
                pass
        assert refused.value.status_code == 503
        assert b"the database is not available; try again" in (refused.value.body or b"")
        health = await api.http.get("/client-config")
        assert health.status_code == 200
    finally:
        await api.http.aclose()
