"""Opening MariaDB when the configured database is missing: created by default,
refused in one line without ``create``, and a name the server will not take."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
import trio

from chat_trio.config import MysqlConfig
from chat_trio.errors import StorageError
from chat_trio.storage import open_storage
from chat_trio.storage.mysql import prepare_server
from chat_trio.storage.schema import SCHEMA_VERSION
from tests.conftest import fresh_mysql, mysql_admin, server_config


def databases(config: MysqlConfig) -> set[str]:
    with mysql_admin(config) as conn, conn.cursor() as cursor:
        cursor.execute("SHOW DATABASES")
        return {row[0] for row in cursor.fetchall()}


async def test_without_create_a_missing_database_is_refused_not_made(
    mysql_database: MysqlConfig, tmp_path: Path
) -> None:
    missing = MysqlConfig(
        **{**mysql_database.__dict__, "name": f"chat_trio_missing_{secrets.token_hex(4)}"}
    )
    config = server_config(tmp_path, mysql=missing)
    with pytest.raises(StorageError, match="does not exist"):
        async with open_storage(config, create=False):
            pass
    assert missing.name not in databases(missing)


async def test_a_database_name_the_server_refuses_is_one_clear_error(
    mysql_database: MysqlConfig,
) -> None:
    bad = MysqlConfig(**{**mysql_database.__dict__, "name": "x" * 65})  # the limit is 64
    with pytest.raises(StorageError, match="is missing and could not be created"):
        await trio.to_thread.run_sync(prepare_server, bad)
    assert bad.name not in databases(bad)


async def test_with_create_a_missing_database_is_made(
    mysql_database: MysqlConfig, tmp_path: Path
) -> None:
    missing = MysqlConfig(
        **{**mysql_database.__dict__, "name": f"chat_trio_made_{secrets.token_hex(4)}"}
    )
    try:
        async with open_storage(server_config(tmp_path, mysql=missing)) as store:
            assert await store.schema_version() == SCHEMA_VERSION
        assert missing.name in databases(missing)
    finally:
        with mysql_admin(missing) as conn, conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{missing.name}`")


async def test_without_create_an_existing_database_is_opened_as_it_is(
    mysql_database: MysqlConfig, tmp_path: Path
) -> None:
    """No table is created: the store is used as the database has it."""
    config = server_config(tmp_path, mysql=fresh_mysql(mysql_database))
    async with open_storage(config, create=False) as store:
        assert store.schema.users.name.startswith(config.mysql.table_prefix)
    with mysql_admin(config.mysql) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME LIKE %s",
            (config.mysql.name, config.mysql.table_prefix + "%"),
        )
        assert cursor.fetchone() == (0,)
