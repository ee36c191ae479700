"""The Python client's edges: an answer that is not JSON is an ApiError with the
status and the text, and iterating a connection ends when the server closes it."""

from __future__ import annotations

import pytest
import trio

from chat_trio.client import ApiError
from tests.conftest import MakeUser
from tests.test_socket import welcome


async def test_an_answer_that_is_not_json_is_an_api_error(make_user: MakeUser) -> None:
    user = await make_user()
    with pytest.raises(ApiError) as refused:
        await user.api.request("GET", "/", headers={"Accept": "text/html"})
    assert refused.value.status == 200 and "<" in str(refused.value)


async def test_iterating_a_connection_ends_when_the_server_closes_it(
    make_user: MakeUser,
) -> None:
    user = await make_user()
    seen = []
    async with user.api.connect() as conn:
        with trio.fail_after(10):
            await welcome(conn)
            await user.api.request("POST", "/user/logout")  # the server closes: 1008
            async for message in conn:
                seen.append(message)
    assert seen == []
