"""The suite's own rules: the hang guard on every test, the ``mysql`` marker.

The hang guard (tests/time_limits.py) is checked by running pytest in a
subprocess on a throwaway test file, with the plugin loaded as this suite loads
it, and reading the outcome and the message.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from chat_trio.config import MysqlConfig

REPO = Path(__file__).resolve().parents[1]

pytest_plugins = ["pytester"]


@pytest.fixture
def run_inner(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str], pytest.RunResult]:
    pytester.makeini("[pytest]\ntrio_mode = true\ntimeout_method = thread\n")
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)  # CI's --cov is for the outer run
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    )

    def run(source: str) -> pytest.RunResult:
        pytester.makepyfile(source)
        return pytester.runpytest_subprocess("-p", "tests.time_limits", "-p", "no:cacheprovider")

    return run


def test_a_hanging_trio_test_fails_naming_its_limit(
    run_inner: Callable[[str], pytest.RunResult],
) -> None:
    result = run_inner("""
import pytest, trio, time

@pytest.mark.time_limit(0.5)
async def test_hangs():
    await trio.sleep_forever()

@pytest.mark.time_limit(0.5)
async def test_hangs_in_a_fixture(stuck):
    pass

@pytest.fixture
async def stuck():
    await trio.Event().wait()

@pytest.mark.time_limit(0.5)
async def test_virtual_clock_hang(autojump_clock):
    await trio.Event().wait()

@pytest.mark.time_limit(5)
async def test_virtual_clock_thread_and_long_sleep(autojump_clock):
    # real work in a thread does not count as a hang; virtual hours pass at once
    await trio.to_thread.run_sync(time.sleep, 0.3)
    await trio.sleep(10_000)

async def test_fine():
    await trio.sleep(0)

async def test_own_fail_after_is_left_alone():
    with trio.fail_after(0.01):
        await trio.sleep_forever()
""")
    result.assert_outcomes(passed=2, failed=4)
    result.stdout.fnmatch_lines([
        "*TimeLimitExceeded: *::test_hangs exceeded its time limit of 0.5 s on the Trio clock*",
        "*TimeLimitExceeded: *::test_hangs_in_a_fixture exceeded its time limit of 0.5 s*",
        "*TimeLimitExceeded: *::test_virtual_clock_hang exceeded its time limit of 0.5 s "
        "of real time (the test runs on a virtual clock)*",
    ])
    # a test's own deadline raises its own error, untouched
    assert "test_own_fail_after_is_left_alone exceeded" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*trio.TooSlowError*"])


def test_a_hanging_sync_test_is_stopped_by_pytest_timeout(
    run_inner: Callable[[str], pytest.RunResult],
) -> None:
    result = run_inner("""
import pytest, time

@pytest.mark.time_limit(0.5)
def test_hangs():
    time.sleep(60)
""")
    assert result.ret != 0
    result.stdout.fnmatch_lines([
        "*test_hangs exceeded its time limit of 0.5 s (pytest-timeout, the last resort)*",
        "*Timeout*",
    ])


def test_the_mysql_half_of_a_both_backends_test_is_marked(
    backend: str, request: pytest.FixtureRequest
) -> None:
    marked = request.node.get_closest_marker("mysql") is not None
    assert marked == (backend == "mysql")


def test_a_test_using_the_mysql_database_is_marked(
    mysql_database: MysqlConfig, request: pytest.FixtureRequest
) -> None:
    assert request.node.get_closest_marker("mysql") is not None
