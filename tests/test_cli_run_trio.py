"""``run_trio`` unwraps a lone error from the nurseries' groups so the command can
print it in one line; several errors at once stay a group, none is lost."""

from __future__ import annotations

import pytest
import trio

from chat_trio.cli import run_trio


async def fail(message: str) -> None:
    raise ValueError(message)


async def two_failures() -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(fail, "one")
        nursery.start_soon(fail, "two")


async def one_failure() -> None:
    async with trio.open_nursery() as outer, trio.open_nursery() as inner:
        outer.start_soon(trio.sleep_forever)
        inner.start_soon(fail, "alone")


def test_a_lone_error_is_unwrapped() -> None:
    with pytest.raises(ValueError, match="alone"):
        run_trio(one_failure)


def test_several_errors_stay_a_group() -> None:
    with pytest.raises(ExceptionGroup) as raised:
        run_trio(two_failures)
    assert sorted(str(e) for e in raised.value.exceptions) == ["one", "two"]
