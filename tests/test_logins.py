"""A session lives only as long as the login it was opened with.

A logout, a password change (for the other logins) and the token's expiry each
close the sessions opened with that token, with code 1008 and a reason, and the
token stops working over HTTP at the same moment. Every wait is bounded and
waits for the close itself.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import trio
import trio_websocket

from chat_trio.client import ChatClient, Connection
from chat_trio.model import FrameType
from tests.conftest import PASSWORD, MakeUser, Server, server_config, start_server
from tests.test_socket import welcome

#: Seconds a session may take to close after its login ended (a hang guard).
CLOSE_WITHIN = 10


async def closed_with(conn: Connection, within: float = CLOSE_WITHIN) -> tuple[int, str]:
    """Read until the server closes the connection; its close code and reason."""
    with pytest.raises(trio_websocket.ConnectionClosed) as closed, trio.fail_after(within):  # noqa: PT012
        while True:
            await conn.receive()
    reason = closed.value.reason
    assert reason is not None
    return reason.code, reason.reason or ""


async def still_open(conn: Connection) -> None:
    await conn.heartbeat()
    with trio.fail_after(CLOSE_WITHIN):
        while (await conn.receive()).type != FrameType.HEARTBEAT:
            pass


async def second_login(server: Server, username: str) -> ChatClient:
    api = ChatClient(server.url)
    await api.login(username, PASSWORD)
    return api


async def test_logout_closes_the_sessions_of_that_login(
    server: Server, make_user: MakeUser
) -> None:
    user = await make_user()
    async with (
        await second_login(server, user.username) as phone,
        user.api.connect() as desk,
        phone.connect() as on_phone,
    ):
        await welcome(desk)
        await welcome(on_phone)
        await phone.request("POST", "/user/logout")
        assert await closed_with(on_phone) == (1008, "login revoked")
        await still_open(desk)  # another login of the same user
        assert phone.me is not None
        async with httpx.AsyncClient(base_url=server.url) as http:
            me = await http.get("/user/me", headers={"Authorization": f"Bearer {phone.me.token}"})
        assert me.status_code == 401


async def test_password_change_closes_the_other_logins_sessions(
    server: Server, make_user: MakeUser
) -> None:
    user = await make_user()
    async with await second_login(server, user.username) as other:
        async with (
            user.api.connect() as mine, user.api.connect() as mine_too, other.connect() as theirs,
        ):
            for conn in (mine, mine_too, theirs):
                await welcome(conn)
            await user.api.request(
                "PUT", "/user",
                json={"password": "brand new password", "oldPassword": PASSWORD},
            )
            assert await closed_with(theirs) == (1008, "login revoked")
            await still_open(mine)  # the caller's own login stays
            await still_open(mine_too)
        with pytest.raises(trio_websocket.ConnectionRejected) as refused:
            async with other.connect():
                pass
        assert refused.value.status_code == 401


async def test_a_session_closes_when_its_token_expires(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    config = server_config(tmp_path).replace("auth", token_ttl=6.0)
    server = await start_server(nursery, config, tmp_path)
    async with ChatClient(server.url) as api:
        me = await api.signup("shortlived", PASSWORD)
        async with api.connect() as conn:
            await welcome(conn)
            assert await closed_with(conn, within=30) == (1008, "login expired")
        # the same moment, the token stops working over HTTP too (the node's token
        # cache never trusts a token past its expiry)
        async with httpx.AsyncClient(base_url=server.url) as http:
            answer = await http.get("/user/me", headers={"Authorization": f"Bearer {me.token}"})
        assert answer.status_code == 401
