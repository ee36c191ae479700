"""Logins' edges: a watch ends once however often its login is revoked, and a
logout with a token that is not valid succeeds and ends no one's login."""

from __future__ import annotations

import httpx

from chat_trio.auth import LiveLogins
from chat_trio.bus import Revocation
from tests.conftest import MakeUser, Server


def test_a_watch_ends_once() -> None:
    live = LiveLogins()
    ended: list[str] = []
    with live.watch(7, "h" * 64) as watch:
        watch.on_end = ended.append
        assert live.end(Revocation(token_hash="h" * 64), "logged out") == 1
        assert live.end(Revocation(user_id=7, keep_hash="k" * 64), "password changed") == 1
    assert (watch.reason, ended) == ("logged out", ["logged out"])
    assert len(live) == 0


async def test_a_logout_with_a_token_that_is_not_valid_succeeds(
    server: Server, make_user: MakeUser
) -> None:
    user = await make_user()
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        answer = await http.post("/user/logout", headers={"Authorization": "Bearer " + "x" * 43})
    assert answer.status_code == 200 and answer.json()["code"] == 0
    assert (await user.api.request("GET", "/user/me"))["uuid"] == user.uuid  # still logged in
