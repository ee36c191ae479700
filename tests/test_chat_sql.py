"""chat.sql at the top of the repository is the schema ``chat-trio initdb`` creates.

Two checks: the file equals the schema rendered for MySQL (it is generated:
``python -m chat_trio.storage.ddl > chat.sql``), and on the real MariaDB, a
database made from chat.sql and one made by ``chat-trio initdb`` have the same
SHOW CREATE TABLE for every table (columns, keys, engine, charset; in any
order) and the same schema version.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from chat_trio.config import MysqlConfig
from chat_trio.storage.ddl import render_mysql_ddl
from chat_trio.storage.schema import SCHEMA_VERSION, build_schema
from tests.conftest import mysql_admin

CHAT_SQL = Path(__file__).resolve().parent.parent / "chat.sql"


def test_chat_sql_is_the_rendered_schema() -> None:
    assert CHAT_SQL.read_text(encoding="utf-8") == render_mysql_ddl(), (
        "chat.sql is out of date: run `python -m chat_trio.storage.ddl > chat.sql`"
    )


def test_rendered_schema_honors_the_table_prefix() -> None:
    ddl = render_mysql_ddl("acme_")
    created = re.findall(r"^CREATE (?:TABLE|INDEX) `?(\w+)`?", ddl, flags=re.MULTILINE)
    expected = {t.name for t in build_schema("acme_").metadata.sorted_tables}
    assert expected <= set(created)
    assert all(name.startswith("acme_") for name in created)
    assert re.findall(r"REFERENCES `?(\w+)`?", ddl)
    assert all(name.startswith("acme_") for name in re.findall(r"REFERENCES `?(\w+)`?", ddl))


def statements(sql: str) -> list[str]:
    body = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


@pytest.fixture
def two_databases(mysql_database: MysqlConfig) -> Iterator[tuple[MysqlConfig, MysqlConfig]]:
    by_hand = MysqlConfig(**{**mysql_database.__dict__, "name": mysql_database.name + "_sql"})
    by_initdb = MysqlConfig(**{**mysql_database.__dict__, "name": mysql_database.name + "_init"})
    try:
        yield by_hand, by_initdb
    finally:
        with mysql_admin(mysql_database) as conn, conn.cursor() as cursor:
            for config in (by_hand, by_initdb):
                cursor.execute(f"DROP DATABASE IF EXISTS `{config.name}`")


def normalised(create_table: str) -> str:
    """SHOW CREATE TABLE with its lines sorted: keys come in creation order, which
    create_all does not fix; what they are is what matters."""
    lines = [line.strip().rstrip(",") for line in create_table.splitlines()]
    return "\n".join(sorted(lines))


def show_create(config: MysqlConfig) -> dict[str, str]:
    with mysql_admin(config) as conn, conn.cursor() as cursor:
        cursor.execute(f"USE `{config.name}`")
        cursor.execute("SHOW TABLES")
        tables = sorted(row[0] for row in cursor.fetchall())
        out = {}
        for table in tables:
            cursor.execute(f"SHOW CREATE TABLE `{table}`")
            out[table] = normalised(cursor.fetchone()[1])
        cursor.execute("SELECT version FROM schema_version")
        out["(versions)"] = repr(sorted(row[0] for row in cursor.fetchall()))
        return out


def test_chat_sql_creates_what_initdb_creates(
    two_databases: tuple[MysqlConfig, MysqlConfig], tmp_path: Path
) -> None:
    by_hand, by_initdb = two_databases
    with mysql_admin(by_hand) as conn, conn.cursor() as cursor:
        cursor.execute(
            f"CREATE DATABASE `{by_hand.name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )
        cursor.execute(f"USE `{by_hand.name}`")
        for statement in statements(CHAT_SQL.read_text(encoding="utf-8")):
            cursor.execute(statement)

    # initdb also creates the missing database itself
    env = {
        **os.environ,
        "CHAT_TRIO_DATABASE_BACKEND": "mysql",
        "CHAT_TRIO_MYSQL_HOST": by_initdb.host,
        "CHAT_TRIO_MYSQL_PORT": str(by_initdb.port),
        "CHAT_TRIO_MYSQL_USER": by_initdb.user,
        "CHAT_TRIO_MYSQL_PASSWORD": by_initdb.password,
        "CHAT_TRIO_MYSQL_NAME": by_initdb.name,
    }
    result = subprocess.run(
        [sys.executable, "-m", "chat_trio", "initdb"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"schema version {SCHEMA_VERSION}" in result.stdout

    made_by_hand, made_by_initdb = show_create(by_hand), show_create(by_initdb)
    assert sorted(made_by_hand) == sorted(made_by_initdb)
    for table, ddl in made_by_initdb.items():
        assert made_by_hand[table] == ddl, table
    assert "utf8mb4" in made_by_initdb["messages"]
    assert "InnoDB" in made_by_initdb["messages"]
