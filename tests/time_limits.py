"""A time limit on every test: a test that hangs fails, naming the limit it broke.

Each test has a limit in seconds: ``@pytest.mark.time_limit(N)`` if it has one,
else the ini option ``time_limit_slow`` for the browser and multinode suites
(several processes, a real browser), else ``time_limit``. It is a hang guard, set
far above what a test takes on a busy machine, never a speed assertion.

- A Trio test runs, fixtures and all, inside a cancel scope: past the limit
  everything is cancelled, fixtures are torn down, and the test fails with a
  message naming the limit; the traceback of the cancellation shows where it
  was waiting. On the real clock the scope has a Trio deadline. A test on a
  virtual clock (``autojump_clock``, ``mock_clock``) is bounded in real seconds
  instead, by a timer thread that cancels the scope: an autojump clock jumps to
  the next deadline whenever every task waits, also while a worker thread does
  real work (SQLite, argon2), so a virtual deadline would fire spuriously.
- Every test (sync ones, such as the Playwright browser tests, only have this
  one) also gets pytest-timeout's ``timeout`` marker, with the ``thread``
  method: the last resort when nothing in Trio can move, a test blocked in a
  thread or in C. A Trio test gets ``time_limit_grace`` more seconds there, so
  the Trio-clock limit fires first. That method dumps every thread's stack and
  ends the whole run: it is for hangs that nothing else can stop.

Hypothesis-driven Trio tests run one ``trio.run`` per example, outside this
wrapper; pytest-timeout bounds them as a whole.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Awaitable, Callable, Sequence

import pytest
import pytest_timeout
import trio

SLOW_SUITES = ("browser", "multinode")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "time_limit", "seconds a test may take before it counts as hung", default="60"
    )
    parser.addini(
        "time_limit_slow", "seconds for a test of the browser and multinode suites",
        default="180",
    )
    parser.addini(
        "time_limit_grace",
        "seconds pytest-timeout waits past a Trio test's limit before ending the run",
        default="30",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "time_limit(seconds): this test's hang guard, instead of the ini option time_limit",
    )


def limit_of(item: pytest.Item) -> float:
    marker = item.get_closest_marker("time_limit")
    if marker is not None:
        return float(marker.args[0])
    if any(item.get_closest_marker(suite) is not None for suite in SLOW_SUITES):
        return float(item.config.getini("time_limit_slow"))
    return float(item.config.getini("time_limit"))


class TimeLimitExceeded(Exception):
    """A test ran past its time limit."""


def _watchdog(limit: float, scope: trio.CancelScope) -> threading.Timer:
    """Cancel ``scope`` after ``limit`` real seconds, from a timer thread."""
    token = trio.lowlevel.current_trio_token()

    def expire() -> None:
        with contextlib.suppress(trio.RunFinishedError):
            token.run_sync_soon(scope.cancel)

    timer = threading.Timer(limit, expire)
    timer.daemon = True
    timer.start()
    return timer


def bounded_run(limit: float, name: str) -> Callable[..., object]:
    """A ``trio.run`` for pytest-trio that runs the test (and its Trio fixtures)
    under a deadline of ``limit`` seconds."""

    def run(
        fn: Callable[[], Awaitable[object]], *, clock: trio.abc.Clock | None = None,
        instruments: Sequence[trio.abc.Instrument] = (),
    ) -> object:
        async def bounded() -> object:
            watchdog: threading.Timer | None = None
            if clock is None:  # the real clock: a Trio deadline
                scope = trio.move_on_after(limit)
                kind = "on the Trio clock"
            else:  # a virtual clock would jump to the deadline while a thread works
                scope = trio.CancelScope()
                watchdog = _watchdog(limit, scope)
                kind = "of real time (the test runs on a virtual clock)"
            message = (
                f"{name} exceeded its time limit of {limit:g} s {kind}: it hung? "
                "(a hang guard, see tests/time_limits.py; a test that needs longer "
                "says so with @pytest.mark.time_limit(seconds))"
            )
            try:
                with scope:
                    try:
                        result = await fn()
                    except BaseException as exc:
                        if scope.cancel_called:
                            raise TimeLimitExceeded(message) from exc
                        raise
            finally:
                if watchdog is not None:
                    watchdog.cancel()
            if scope.cancel_called:
                raise TimeLimitExceeded(message)
            return result

        return trio.run(bounded, clock=clock, instruments=instruments)

    return run


@pytest.hookimpl(trylast=True)  # after pytest-trio has marked the async tests
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        limit = limit_of(item)
        grace = 0.0
        if item.get_closest_marker("trio") is not None:
            grace = float(item.config.getini("time_limit_grace"))
            # first in the list, so that pytest-trio picks this runner over its own
            item.add_marker(pytest.mark.trio(run=bounded_run(limit, item.nodeid)), append=False)
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(limit + grace))


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: pytest_timeout.Settings) -> bool | None:
    """pytest-timeout's thread method, with a first line that names the test and its
    limit (the method itself only prints "Timeout" and the stacks, then ends the run)."""
    if settings.method != "thread":
        return None

    def expire() -> None:
        item.config.get_terminal_writer().line(
            f"\n{item.nodeid} exceeded its time limit of {settings.timeout:g} s "
            "(pytest-timeout, the last resort): it hung? Every thread's stack follows, "
            "then the run ends."
        )
        pytest_timeout.timeout_timer(item, settings)

    timer = threading.Timer(settings.timeout, expire)
    timer.daemon = True

    def cancel() -> None:
        timer.cancel()
        timer.join()

    item.cancel_timeout = cancel  # type: ignore[attr-defined]  # what pytest-timeout cancels
    timer.start()
    return True
