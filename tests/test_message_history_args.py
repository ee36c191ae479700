"""``GET /message``'s paging arguments: a number that is not one, and ``before``
with ``after``, are each refused with 400 and a message naming the argument."""

from __future__ import annotations

import pytest

from chat_trio.client import ApiError
from tests.conftest import MakeUser, befriend


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({"Limit": "ten"}, "`limit` must be a whole number"),
        ({"before": "1.5"}, "`before` must be a whole number"),
        ({"After": "x"}, "`after` must be a whole number"),
        ({"Before": "9", "After": "1"}, "give `before` or `after`, not both"),
    ],
)
async def test_bad_paging_arguments_are_refused(
    make_user: MakeUser, extra: dict[str, str], says: str
) -> None:
    a, b = await make_user(), await make_user()
    await befriend(a, b)
    params = {"Uuid": a.uuid, "MessageType": "1", "FriendUsername": b.username}
    assert await a.api.request("GET", "/message", params=params) == []
    with pytest.raises(ApiError) as refused:
        await a.api.request("GET", "/message", params={**params, **extra})
    assert refused.value.status == 400
    assert says in str(refused.value)
