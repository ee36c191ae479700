"""MySQL/MariaDB through PyMySQL, from the seed's ``[mysql]`` keys.

The pool holds ``poolSize`` connections and the store's CapacityLimiter has the
same size, so a worker thread never waits inside the pool. The driver's own
timeouts bound every call, because cancelling a Trio task does not stop a thread
that is blocked in a socket read.
"""

from __future__ import annotations

from sqlalchemy import URL, Engine, create_engine

from chat_trio.config import MysqlConfig


def mysql_url(config: MysqlConfig, *, database: bool = True) -> URL:
    return URL.create(
        "mysql+pymysql",
        username=config.user,
        password=config.password or None,
        host=config.host,
        port=config.port,
        database=config.name if database else None,
        query={"charset": "utf8mb4"},
    )


def mysql_engine(config: MysqlConfig) -> Engine:
    timeout = max(1, int(config.timeout))
    return create_engine(
        mysql_url(config),
        pool_size=config.pool_size,
        max_overflow=0,
        pool_pre_ping=True,
        pool_recycle=3600,
        connect_args={
            "connect_timeout": timeout,
            "read_timeout": timeout,
            "write_timeout": timeout,
        },
    )
