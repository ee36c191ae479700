"""The user routes' less travelled inputs: a null field counts as empty, a
non-string current password and a missing ``uuid`` are refused with 400, and a
logout without a login is a plain success (SQLite and MariaDB)."""

from __future__ import annotations

import httpx
import pytest

from chat_trio.client import ApiError
from tests.conftest import PASSWORD, MakeUser, Server


async def test_a_null_field_is_empty(make_user: MakeUser) -> None:
    user = await make_user()
    await user.api.request("PUT", "/user", json={"nickname": "Nick", "email": "n@example.org"})
    await user.api.request("PUT", "/user", json={"nickname": None, "email": None})
    me = await user.api.request("GET", "/user/me")
    assert (me["nickname"], me["email"]) == ("Nick", "")  # an empty nickname keeps the old


async def test_a_current_password_that_is_no_string_is_refused(make_user: MakeUser) -> None:
    user = await make_user()
    with pytest.raises(ApiError) as refused:
        await user.api.request(
            "PUT", "/user", json={"password": PASSWORD + "!", "oldPassword": 12345}
        )
    assert refused.value.status == 400 and "`oldPassword` must be a string" in str(refused.value)
    await user.api.login(user.username, PASSWORD)  # the password did not change


async def test_online_without_a_uuid_is_refused(make_user: MakeUser) -> None:
    user = await make_user()
    with pytest.raises(ApiError) as refused:
        await user.api.request("GET", "/user/online", params={"uuid": "  "})
    assert refused.value.status == 400 and "`uuid` is required" in str(refused.value)


async def test_a_logout_without_a_login_succeeds(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        answer = await http.post("/user/logout")
    assert answer.status_code == 200 and answer.json()["code"] == 0
