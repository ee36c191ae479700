"""The command line as a user runs it: real processes, real files."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import trio

from chat_trio.storage.schema import SCHEMA_VERSION
from tests.conftest import PASSWORD


def cli_env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CHAT_TRIO_SQLITE_PATH": str(tmp_path / "chat.db"),
        "CHAT_TRIO_STATICPATH_FILEPATH": str(tmp_path / "files"),
        "CHAT_TRIO_AUTH_ARGON2MEMORYKIB": "1024",
        "CHAT_TRIO_AUTH_ARGON2TIMECOST": "1",
    }


def run_cli(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chat_trio", *args],
        input=stdin, capture_output=True, text=True, env=cli_env(tmp_path), cwd=tmp_path,
        timeout=60, check=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_help_lists_every_command(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "--help")
    assert result.returncode == 0
    for command in ("serve", "initdb", "adduser", "check-config"):
        assert command in result.stdout


def test_initdb_and_adduser(tmp_path: Path) -> None:
    created = run_cli(tmp_path, "initdb")
    assert created.returncode == 0, created.stderr
    assert f"schema version {SCHEMA_VERSION}" in created.stdout
    added = run_cli(tmp_path, "adduser", "root-admin", "--password-stdin", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert "added root-admin" in added.stdout
    again = run_cli(tmp_path, "adduser", "root-admin", "--password-stdin", stdin=PASSWORD + "\n")
    assert again.returncode == 1
    assert "exists already" in again.stderr
    weak = run_cli(tmp_path, "adduser", "weak", "--password-stdin", stdin="short\n")
    assert weak.returncode == 1 and "at least 8" in weak.stderr


def test_bad_config_stops_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("[server]\nport = 'x'\n")
    result = run_cli(tmp_path, "serve", "--config", "bad.toml")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "chat-trio: bad config: [server] port: expected an integer, got 'x'"
    )


async def test_serve_answers_then_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "chat_trio", "serve", "--port", str(port)],
        env=cli_env(tmp_path), cwd=tmp_path, stderr=subprocess.PIPE,
    )
    try:
        with trio.fail_after(30):
            while True:
                try:
                    async with httpx.AsyncClient() as http:
                        r = await http.post(
                            f"http://127.0.0.1:{port}/user/register",
                            json={"username": "first", "password": PASSWORD},
                        )
                    break
                except httpx.ConnectError:
                    await trio.sleep(0.1)
        assert r.status_code == 201
        assert (tmp_path / "chat.db").exists()  # created on first start
        process.terminate()
        with trio.fail_after(15):
            code = await process.wait()
        assert code == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        if process.stderr is not None:
            await process.stderr.aclose()


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound once, then released)."""
    return free_port()


def assert_one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def run_serve(tmp_path: Path, port: int, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chat_trio", "serve", "--port", str(port)],
        capture_output=True, text=True, env={**cli_env(tmp_path), **env}, cwd=tmp_path,
        timeout=60, check=False,
    )


def test_unreachable_mysql_stops_with_one_line(tmp_path: Path) -> None:
    port = closed_port()
    line = assert_one_line(run_serve(
        tmp_path, free_port(),
        CHAT_TRIO_DATABASE_BACKEND="mysql", CHAT_TRIO_MYSQL_HOST="127.0.0.1",
        CHAT_TRIO_MYSQL_PORT=str(port),
    ))
    assert line.startswith("chat-trio: cannot connect to MySQL/MariaDB as ")
    assert f"@127.0.0.1:{port}" in line


def test_bad_mysql_credentials_stop_with_one_line(tmp_path: Path) -> None:
    line = assert_one_line(run_serve(
        tmp_path, free_port(),
        CHAT_TRIO_DATABASE_BACKEND="mysql", CHAT_TRIO_MYSQL_HOST="127.0.0.1",
        CHAT_TRIO_MYSQL_PORT="3306", CHAT_TRIO_MYSQL_USER="no_such_chat_trio_user",
        CHAT_TRIO_MYSQL_PASSWORD="wrong",
    ))
    assert line.startswith("chat-trio: cannot connect to MySQL/MariaDB as ")
    assert "no_such_chat_trio_user@127.0.0.1:3306" in line


def test_busy_port_stops_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = assert_one_line(run_serve(tmp_path, port))
    assert line == f"chat-trio: cannot listen on 127.0.0.1:{port}: address already in use"
