"""``python -m chat_trio.storage.ddl``, the command that writes chat.sql, prints
exactly the rendered schema, with and without a table prefix."""

from __future__ import annotations

import subprocess
import sys

from chat_trio.storage.ddl import render_mysql_ddl
from tests.test_chat_sql import CHAT_SQL


def ddl_command(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "chat_trio.storage.ddl", *args],
        capture_output=True, text=True, check=True, timeout=60,
    )
    assert done.stderr == ""
    return done.stdout


def test_the_command_prints_chat_sql() -> None:
    assert ddl_command() == render_mysql_ddl() == CHAT_SQL.read_text(encoding="utf-8")


def test_the_command_takes_a_table_prefix() -> None:
    printed = ddl_command("--prefix", "acme_")
    assert printed == render_mysql_ddl("acme_")
    assert "CREATE TABLE acme_users (" in printed
