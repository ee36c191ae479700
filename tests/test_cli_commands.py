"""The commands of the command line not covered by test_cli.py: real processes, real files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import PASSWORD
from tests.test_cli import cli_env, run_cli


def test_check_config_reports_what_it_read(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[server]\nport = 9123\n')
    result = run_cli(tmp_path, "check-config")
    assert result.returncode == 0, result.stderr
    assert "config OK: sqlite database, listening on" in result.stdout
    assert ":9123" in result.stdout


def test_a_log_path_gets_its_folder_and_the_log(tmp_path: Path) -> None:
    """[log] path: the folder is made and the log goes there, not to standard error."""
    log = tmp_path / "logs" / "chat.log"
    result = subprocess.run(
        [sys.executable, "-m", "chat_trio", "initdb"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
        env={**cli_env(tmp_path), "CHAT_TRIO_LOG_PATH": str(log), "CHAT_TRIO_LOG_LEVEL": "debug"},
    )
    assert result.returncode == 0, result.stderr
    assert log.is_file()
    assert result.stderr == ""


def test_adduser_asks_twice_and_refuses_passwords_that_differ(tmp_path: Path) -> None:
    """Without --password-stdin the password is asked twice (from the terminal,
    or from standard input when there is none): two that differ add nobody."""

    def adduser(name: str, answers: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "chat_trio", "adduser", name],
            input=answers, capture_output=True, text=True, env=cli_env(tmp_path),
            cwd=tmp_path, timeout=60, check=False, start_new_session=True,  # no terminal
        )

    differ = adduser("alice", f"{PASSWORD}\n{PASSWORD}x\n")
    assert differ.returncode == 1
    assert "the passwords differ" in differ.stderr
    same = adduser("alice", f"{PASSWORD}\n{PASSWORD}\n")
    assert same.returncode == 0, same.stderr
    assert "added alice" in same.stdout


def test_adduser_refuses_a_bad_username(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "adduser", "no spaces", "--password-stdin", stdin=PASSWORD + "\n")
    assert result.returncode == 1
    assert "username must be" in result.stderr


def test_serve_with_a_files_folder_it_cannot_make_stops_with_one_line(tmp_path: Path) -> None:
    """An OSError that is not the listener's names the path, in one line."""
    (tmp_path / "plain-file").write_text("")
    files = tmp_path / "plain-file" / "files"
    result = subprocess.run(
        [sys.executable, "-m", "chat_trio", "serve", "--host", "127.0.0.1", "--port", "0"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
        env={**cli_env(tmp_path), "CHAT_TRIO_STATICPATH_FILEPATH": str(files)},
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("chat-trio: ") and "plain-file" in last and "not a directory" in last
    assert "Traceback" not in result.stderr


def test_bench_hands_every_argument_to_the_benchmark(tmp_path: Path) -> None:
    """``chat-trio bench --help`` is the benchmark script's help, not the CLI's."""
    result = run_cli(tmp_path, "bench", "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: bench.py" in result.stdout
