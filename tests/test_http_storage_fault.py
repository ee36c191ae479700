"""An HTTP request the database fails is answered 503 with the JSON envelope and a
message to try again, on SQLite and MariaDB; the routes that need no database go
on answering."""

from __future__ import annotations

import httpx
import trio

from chat_trio.client import ChatClient
from tests.conftest import PASSWORD, Server
from tests.test_socket_storage_fault import drop_logins, server

__all__ = ["server"]  # the fixture: tables of this test's own


async def test_a_login_the_database_cannot_record_gets_503(server: Server) -> None:
    api = ChatClient(server.url)
    try:
        await api.signup("bob", PASSWORD)
    finally:
        await api.http.aclose()
    await trio.to_thread.run_sync(drop_logins, server)
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        failed = await http.post("/user/login", json={"username": "bob", "password": PASSWORD})
        assert failed.status_code == 503
        assert failed.json()["code"] == -1
        assert failed.json()["msg"] == "the database is not available; try again"
        assert (await http.get("/client-config")).status_code == 200
