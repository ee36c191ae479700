"""Shared fixtures: a real chat-trio server on 127.0.0.1 (port 0) and logged-in users.

Rules for every test here: only 127.0.0.1; port 0; real databases: SQLite files
in a tmp dir, and the MariaDB/MySQL server on 127.0.0.1:3306 (root, empty
password; ``CHAT_TRIO_TEST_MYSQL_*`` to change), where each run creates one
throwaway database ``chat_trio_test_<random>`` and drops it at the end, and
each test starts on empty tables. A run that cannot reach that server fails;
it does not skip. Every test has a time limit, 60 s unless it says otherwise
(tests/time_limits.py: a hang guard, never a speed assertion), and steps that
may hang have their own ``trio.fail_after``.

The ``server`` fixture, and so every end-to-end test, runs once per backend.
"""

from __future__ import annotations

import itertools
import os
import secrets
import uuid as uuid_lib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pymysql
import pytest
import trio

from chat_trio import model
from chat_trio.app import serve
from chat_trio.client import ChatClient, Me
from chat_trio.config import Config, MysqlConfig
from chat_trio.storage import SqlStore, open_storage
from tests.instances import MariadbInstance, RedisInstance, own_mariadb_server, own_redis_server

#: Every test has a time limit (a hang guard): see tests/time_limits.py.
pytest_plugins = ["tests.time_limits"]

#: Cheap argon2 settings: tests create many users; production keeps the defaults.
FAST_AUTH = {"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1}

PASSWORD = "correct horse battery"


BACKENDS = ["sqlite", "mysql"]
#: Fixtures that reach a MariaDB: a test using one is marked ``mysql``.
MYSQL_FIXTURES = frozenset({"mysql_database", "mariadb_database", "own_mariadb"})

_prefixes = itertools.count(1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``mysql`` every test that needs MariaDB: the mysql half of the tests run on
    both backends, and the users of a MariaDB fixture. ``-m "not mysql"`` runs the rest."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_mysql = callspec is not None and callspec.params.get("backend") == "mysql"
        if on_mysql or MYSQL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.mysql)


def mysql_server() -> MysqlConfig:
    """The test MariaDB/MySQL server (no database named yet)."""
    env = os.environ.get
    return MysqlConfig(
        host=env("CHAT_TRIO_TEST_MYSQL_HOST", "127.0.0.1"),
        port=int(env("CHAT_TRIO_TEST_MYSQL_PORT", "3306")),
        user=env("CHAT_TRIO_TEST_MYSQL_USER", "root"),
        password=env("CHAT_TRIO_TEST_MYSQL_PASSWORD", ""),
        pool_size=4,
        timeout=5.0,
    )


def mysql_admin(config: MysqlConfig) -> pymysql.Connection[pymysql.cursors.Cursor]:
    try:
        return pymysql.connect(
            host=config.host, port=config.port, user=config.user, password=config.password,
            charset="utf8mb4", autocommit=True, connect_timeout=5,
        )
    except pymysql.MySQLError as exc:
        pytest.fail(
            f"MariaDB/MySQL at {config.host}:{config.port} is unreachable ({exc}); "
            "start it (.ci/run does) -- the MySQL tests do not skip"
        )


@pytest.fixture(scope="session")
def mysql_database() -> Iterator[MysqlConfig]:
    """One throwaway database for the whole run, dropped at the end."""
    base = mysql_server()
    name = f"chat_trio_test_{secrets.token_hex(4)}"
    with mysql_admin(base) as conn, conn.cursor() as cursor:
        cursor.execute(
            f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )
    try:
        yield MysqlConfig(**{**base.__dict__, "name": name})
    finally:
        with mysql_admin(base) as conn, conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def own_mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariadbInstance]:
    """A MariaDB of this test's own (own data directory and port), for a test that
    stops and starts its database: the shared server stays up for everyone else."""
    with own_mariadb_server(tmp_path_factory.mktemp("mariadb")) as instance:
        yield instance


@pytest.fixture
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisInstance]:
    """A Redis of this test's own (own port), for a test that stops and starts it."""
    with own_redis_server(tmp_path_factory.mktemp("redis")) as instance:
        yield instance


def fresh_mysql(database: MysqlConfig) -> MysqlConfig:
    """The run's database with a table prefix no other test uses: isolated tables."""
    return MysqlConfig(**{**database.__dict__, "table_prefix": f"t{next(_prefixes)}_"})


def emptied_mysql(database: MysqlConfig) -> MysqlConfig:
    """The run's shared ``e_`` tables, emptied: isolation without creating tables per test."""
    config = MysqlConfig(**{**database.__dict__, "table_prefix": "e_"})
    with mysql_admin(config) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT TABLE_NAME FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME LIKE 'e\\_%%'",
            (config.name,),
        )
        tables = [row[0] for row in cursor.fetchall() if row[0] != "e_schema_version"]
        if tables:
            cursor.execute(f"USE `{config.name}`")
            cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
            for table in tables:
                cursor.execute(f"DELETE FROM `{table}`")
    return config


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Run the test once on SQLite and once on MariaDB/MySQL."""
    return str(request.param)


@pytest.fixture
def database_config(backend: str, request: pytest.FixtureRequest) -> MysqlConfig | None:
    """For the mysql backend, the run's shared tables, emptied; None for SQLite.

    Emptying (DELETE) costs milliseconds, where creating seven InnoDB tables per
    test nearly doubled the MariaDB half of the suite.
    """
    if backend != "mysql":
        return None
    return emptied_mysql(request.getfixturevalue("mysql_database"))


def server_config(
    tmp_path: Path, *, mysql: MysqlConfig | None = None, **limits: object
) -> Config:
    config = (
        Config()
        .replace("server", host="127.0.0.1", port=0, graceful_timeout=2.0)
        .replace("sqlite", path=str(tmp_path / "chat.db"))
        .replace("static_path", file_path=str(tmp_path / "files"))
        .replace("auth", **FAST_AUTH)
    )
    if mysql is not None:
        config = config.replace("database", backend="mysql").replace("mysql", **mysql.__dict__)
    if limits:
        config = config.replace("limits", **limits)
    return config


@pytest.fixture
def store_config(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Config:
    """A configuration whose store is a fresh SQLite file or a throwaway MariaDB
    database of this test's own (for the tests that talk to storage directly)."""
    mysql = None
    if backend == "mysql":
        mysql = fresh_mysql(request.getfixturevalue("mysql_database"))
    return server_config(tmp_path, mysql=mysql)


@pytest.fixture
async def store(store_config: Config) -> AsyncIterator[SqlStore]:
    async with open_storage(store_config) as opened:
        yield opened


async def new_user(store: SqlStore, name: str | None = None) -> model.User:
    """A user stored directly (the password hash is a placeholder: nobody logs in)."""
    name = name or f"u-{uuid_lib.uuid4().hex[:8]}"
    return await store.create_user(
        uuid=str(uuid_lib.uuid4()), username=name, password_hash="x", nickname=name, email=""
    )


@dataclass
class Server:
    url: str
    config: Config
    tmp_path: Path


@dataclass
class User:
    api: ChatClient
    me: Me

    @property
    def uuid(self) -> str:
        return self.me.uuid

    @property
    def username(self) -> str:
        return self.me.username


_names = itertools.count(1)


async def start_server(nursery: trio.Nursery, config: Config, tmp_path: Path) -> Server:
    url = await nursery.start(serve, config)
    return Server(url, config, tmp_path)


@pytest.fixture
def server_limits() -> dict[str, object]:
    """Override in a test module to run its server with other limits."""
    return {}


@pytest.fixture
async def server(
    nursery: trio.Nursery,
    tmp_path: Path,
    server_limits: dict[str, object],
    database_config: MysqlConfig | None,
) -> Server:
    config = server_config(tmp_path, mysql=database_config, **server_limits)
    return await start_server(nursery, config, tmp_path)


MakeUser = Callable[..., Awaitable[User]]


@pytest.fixture
async def make_user(server: Server) -> AsyncIterator[MakeUser]:
    clients: list[ChatClient] = []

    async def make(name: str | None = None) -> User:
        username = name or f"user{next(_names)}"
        api = ChatClient(server.url)
        clients.append(api)
        me = await api.signup(username, PASSWORD)
        return User(api, me)

    yield make
    for api in clients:
        await api.http.aclose()


async def befriend(a: User, b: User) -> None:
    """Make ``a`` and ``b`` friends as two go-chat clients do: each adds the other
    (``POST /friend`` asks, and accepts a request the other side sent)."""
    await a.api.request("POST", "/friend", json={"uuid": a.uuid, "friendUsername": b.username})
    await b.api.request("POST", "/friend", json={"uuid": b.uuid, "friendUsername": a.username})


async def make_group(owner: User, name: str, *members: User) -> str:
    await owner.api.request("POST", f"/group/{owner.uuid}", json={"name": name, "notice": "hi"})
    groups = await owner.api.request("GET", f"/group/{owner.uuid}")
    group_uuid: str = next(g["uuid"] for g in groups if g["name"] == name)
    for m in members:
        await m.api.request("POST", f"/group/join/{m.uuid}/{group_uuid}")
    return group_uuid
