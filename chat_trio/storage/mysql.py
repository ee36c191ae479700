"""MySQL/MariaDB through PyMySQL, from the seed's ``[mysql]`` keys.

Opening the backend first talks to the server once without a database
(:func:`prepare_server`): it reads ``VERSION()`` and creates the configured
database (utf8mb4) if it is missing. The version picks the SQLAlchemy dialect:

- MariaDB -> ``mariadb+pymysql``. MariaDB 10.5+ has ``INSERT ... RETURNING``,
  and this dialect knows it before the first connection, so a batch of messages
  is inserted by one multi-row statement that hands back every id in order.
- MySQL -> ``mysql+pymysql``. MySQL has no RETURNING: a batch is one INSERT per
  row, still inside one transaction, so still one commit per batch.

Detecting beats a config key: nobody has to know which server they run, and a
``mariadb`` dialect pointed at MySQL would refuse to start.

The pool holds ``poolSize`` connections and the store's CapacityLimiter has the
same size, so a worker thread never waits inside the pool. ``pool_pre_ping``
replaces connections that died while the server was away, so the store recovers
by itself after a restart. The driver's own timeouts bound every call, because
cancelling a Trio task does not stop a thread that is blocked in a socket read.
"""

from __future__ import annotations

from dataclasses import dataclass

import pymysql
from sqlalchemy import URL, Engine, create_engine

from chat_trio.config import MysqlConfig
from chat_trio.errors import StorageError

#: The character set and collation of the database and of every table.
CHARSET = "utf8mb4"
COLLATION = "utf8mb4_unicode_ci"


@dataclass(frozen=True)
class ServerInfo:
    version: str

    @property
    def is_mariadb(self) -> bool:
        return "mariadb" in self.version.lower()

    @property
    def dialect(self) -> str:
        return "mariadb" if self.is_mariadb else "mysql"


def _timeout(config: MysqlConfig) -> int:
    return max(1, int(config.timeout))


def mysql_url(config: MysqlConfig, *, dialect: str = "mysql", database: bool = True) -> URL:
    return URL.create(
        f"{dialect}+pymysql",
        username=config.user,
        password=config.password or None,
        host=config.host,
        port=config.port,
        database=config.name if database else None,
        query={"charset": CHARSET},
    )


def quote_name(name: str) -> str:
    """A MySQL identifier in backquotes."""
    return "`" + name.replace("`", "``") + "`"


def prepare_server(config: MysqlConfig, *, create_database: bool = True) -> ServerInfo:
    """Connect without a database, read the server version, create the database if missing.

    Blocking; run it in a worker thread.

    Raises:
        StorageError: in one line, when the server cannot be reached or the
            database is missing and cannot be created.
    """
    where = f"{config.user}@{config.host}:{config.port}"
    try:
        conn = pymysql.connect(
            host=config.host,
            port=config.port,
            user=config.user,
            password=config.password,
            charset=CHARSET,
            connect_timeout=_timeout(config),
            read_timeout=_timeout(config),
            write_timeout=_timeout(config),
        )
    except pymysql.MySQLError as exc:
        raise StorageError(f"cannot connect to MySQL/MariaDB as {where}: {exc}") from exc
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT VERSION()")
            row = cursor.fetchone()
            info = ServerInfo(str(row[0]) if row else "")
            cursor.execute(
                "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s",
                (config.name,),
            )
            if cursor.fetchone() is None:
                if not create_database:
                    raise StorageError(f"database {config.name!r} does not exist on {where}")
                cursor.execute(
                    f"CREATE DATABASE IF NOT EXISTS {quote_name(config.name)} "
                    f"CHARACTER SET {CHARSET} COLLATE {COLLATION}"
                )
    except pymysql.MySQLError as exc:
        raise StorageError(
            f"database {config.name!r} on {where} is missing and could not be created: {exc}"
        ) from exc
    finally:
        conn.close()
    return info


def mysql_engine(config: MysqlConfig, *, dialect: str = "mysql") -> Engine:
    """The pooled engine; ``dialect`` is ``"mariadb"`` or ``"mysql"`` (see prepare_server)."""
    timeout = _timeout(config)
    return create_engine(
        mysql_url(config, dialect=dialect),
        pool_size=config.pool_size,
        max_overflow=0,
        pool_pre_ping=True,
        pool_recycle=3600,
        # a worker thread never waits long for a connection: the limiter already
        # keeps the number of threads at the pool's size
        pool_timeout=timeout,
        connect_args={
            "connect_timeout": timeout,
            "read_timeout": timeout,
            "write_timeout": timeout,
        },
    )
