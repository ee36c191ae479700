"""benchmarks/soak.py, run tiny for real: its report's shape and its exit code.

A real server process on a fresh SQLite file, 20 real sockets, a few seconds of
traffic with one drop and catch-up per bucket. Only the format and the verdicts
are asserted, never a timing; the RSS limit is set out of the way (a few seconds
say nothing about growth) except where a test wants the check to fail.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "soak.py"
TINY = ["--connections", "20", "--seconds", "6", "--bucket-seconds", "2", "--group-size", "5",
        "--drop-percent", "10"]
ROW = re.compile(r"^\s+\d+\s+\d+\s+\d+\s+\d+\s+(\d+\.\d|-)\s+(\d+\.\d|-)\s+\d+\s+(\d+\.\d|-)$")


def soak(*extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *TINY, *extra],
        capture_output=True, text=True, timeout=150, cwd=REPO,
    )


@pytest.mark.time_limit(170)  # a server process, 20 sockets, 4 s of traffic and a settle
def test_tiny_soak_passes_and_reports_every_check() -> None:
    done = soak("--max-rss-growth", "1000")
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines)
                  if line.split()[:3] == ["bucket", "sent", "acked"])
    rows = [line for line in lines[header + 1:] if ROW.match(line)]
    assert len(rows) >= 2, out  # one row per bucket with traffic
    assert re.search(r"^all: p50 \d+\.\d ms, p99 \d+\.\d ms over \d+ live deliveries$", out, re.M)
    assert re.search(r"^frames: \d+ messages, \d+ typing, \d+ read; reconnects [1-9]\d*$", out,
                     re.M), out  # the drops happened and came back
    for name in ("stored once", "delivered once", "rss growth"):
        assert re.search(rf"^check {name}: ok \(.+\)$", out, re.M), out
    assert re.search(r"missing 0, twice outside catch-up 0", out), out
    assert lines[-1] == "soak: PASS"


@pytest.mark.time_limit(170)
def test_a_failed_check_fails_the_run() -> None:
    """An RSS limit nothing can meet (shrinking by more than all of it): exit 1, FAILED."""
    done = soak("--max-rss-growth", "-100")
    assert done.returncode == 1, done.stdout + done.stderr
    assert re.search(r"^check rss growth: FAILED \(.+\)$", done.stdout, re.M), done.stdout
    assert re.search(r"^check stored once: ok", done.stdout, re.M), done.stdout
    assert done.stdout.splitlines()[-1] == "soak: FAIL"


@pytest.mark.parametrize("bad", [["--connections", "1"], ["--seconds", "0"]])
def test_bad_arguments_are_refused(bad: list[str]) -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), *bad], capture_output=True, text=True,
                          timeout=60, cwd=REPO)
    assert done.returncode == 2
    assert "soak.py: error:" in done.stderr
