"""benchmarks/search.py runs end to end at a tiny size on both backends and prints
its table in the documented format. Nothing here is timed: the figures are only
checked to be numbers."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from chat_trio.config import MysqlConfig

REPO = Path(__file__).resolve().parents[1]
ROW = re.compile(
    r"^\| (sqlite|mysql) \| (one word|two words|phrase|prefix) \| (\d+) \| [\d.]+ \| [\d.]+ "
    r"\| [\d.]+ \|$"
)


def test_benchmark_prints_one_table_for_both_backends(mysql_database: MysqlConfig) -> None:
    result = subprocess.run(
        [
            sys.executable, str(REPO / "benchmarks" / "search.py"), "--messages", "400",
            "--queries", "3", "--users", "20", "--groups", "4",
            "--mysql-host", mysql_database.host, "--mysql-port", str(mysql_database.port),
            "--mysql-user", mysql_database.user, "--mysql-password", mysql_database.password,
        ],
        capture_output=True, text=True, timeout=120, check=False, cwd=REPO,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith("400 messages, 20 users, 4 groups")
    assert re.fullmatch(r"sqlite: load [\d.]+ s", lines[1])
    assert re.fullmatch(r"mysql: load [\d.]+ s, index [\d.]+ s", lines[2])
    assert lines[4] == "| backend | query | queries | p50 ms | p99 ms | hits per page |"
    rows = [ROW.match(line) for line in lines[6:]]
    assert all(rows) and len(rows) == 8, lines[6:]
    assert [(m.group(1), m.group(2), m.group(3)) for m in rows if m] == [
        (backend, kind, "3")
        for backend in ("sqlite", "mysql")
        for kind in ("one word", "two words", "phrase", "prefix")
    ]


def test_benchmark_refuses_bad_sizes() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "search.py"), "--messages", "0"],
        capture_output=True, text=True, timeout=60, check=False, cwd=REPO,
    )
    assert result.returncode == 2 and "--messages" in result.stderr
