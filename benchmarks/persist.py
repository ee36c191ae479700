"""Messages persisted per second: batched vs one insert per message, SQLite and MariaDB.

    python benchmarks/persist.py [--messages 5000] [--batch 256] [--mysql-host 127.0.0.1] ...

The store writer stores every message that queued up while the last batch was
being written in one transaction (one commit, one fsync). This measures what
that buys against one ``store_messages`` call (one transaction) per message,
through the same Store the server uses, on both backends in one run: SQLite in
a temporary directory (WAL, synchronous=FULL) and a throwaway MariaDB/MySQL
database ``chat_trio_bench_<random>``, dropped at the end. It prints one table.
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
import time
import uuid as uuid_lib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pymysql
import trio

from chat_trio.config import Config, MysqlConfig
from chat_trio.model import MessageType, NewMessage, User
from chat_trio.storage import SqlStore, open_storage


@dataclass(frozen=True)
class Result:
    backend: str
    batched: float  # messages per second
    one_by_one: float


def messages(sender: User, to: User, count: int, tag: str) -> list[NewMessage]:
    now = time.time_ns() // 1_000_000
    return [
        NewMessage(
            sender=sender, to_uuid=to.uuid, to_id=to.id, message_type=MessageType.USER,
            content_type=1, content=f"benchmark message {i} 😀", url="",
            client_id=f"{tag}-{i}", created_at_ms=now,
        )
        for i in range(count)
    ]


async def user(store: SqlStore) -> User:
    name = f"bench-{uuid_lib.uuid4().hex[:8]}"
    return await store.create_user(
        uuid=str(uuid_lib.uuid4()), username=name, password_hash="x", nickname=name, email=""
    )


async def measure(config: Config, count: int, batch: int) -> tuple[float, float]:
    async with open_storage(config) as store:
        a, b = await user(store), await user(store)
        await store.store_messages(messages(a, b, 10, "warm-up"))

        todo = messages(a, b, count, "batched")
        start = time.perf_counter()
        for i in range(0, count, batch):
            await store.store_messages(todo[i : i + batch])
        batched = count / (time.perf_counter() - start)

        todo = messages(a, b, count, "single")
        start = time.perf_counter()
        for m in todo:
            await store.store_messages([m])
        one_by_one = count / (time.perf_counter() - start)

        stored = await store.conversation(a, b, limit=3 * count)
        assert len(stored) == 2 * count + 10, "every message must be stored"
    return batched, one_by_one


def admin(server: MysqlConfig) -> pymysql.Connection[pymysql.cursors.Cursor]:
    return pymysql.connect(
        host=server.host, port=server.port, user=server.user, password=server.password,
        autocommit=True,
    )


async def run(args: argparse.Namespace) -> list[Result]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = Config().replace("sqlite", path=str(Path(tmp) / "bench.db"))
        results.append(Result("sqlite", *await measure(sqlite, args.messages, args.batch)))

    server = MysqlConfig(
        host=args.mysql_host, port=args.mysql_port, user=args.mysql_user,
        password=args.mysql_password, name=f"chat_trio_bench_{secrets.token_hex(4)}",
    )
    mysql = Config().replace("database", backend="mysql").replace("mysql", **server.__dict__)
    try:
        # open_storage creates the database
        measured = await measure(mysql, args.messages, args.batch)
    finally:
        with admin(server) as conn, conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{server.name}`")
    with admin(server) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT VERSION()")
        row = cursor.fetchone()
    name = "mariadb" if row and "mariadb" in str(row[0]).lower() else "mysql"
    results.append(Result(f"{name} {row[0] if row else ''}".strip(), *measured))
    return results


def table(results: Sequence[Result], count: int, batch: int) -> str:
    head = ("backend", f"batched ({batch}/txn) msgs/s", "one-by-one msgs/s", "ratio")
    rows = [
        (r.backend, f"{r.batched:,.0f}", f"{r.one_by_one:,.0f}", f"{r.batched / r.one_by_one:.1f}x")
        for r in results
    ]
    widths = [max(len(str(c)) for c in col) for col in zip(head, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join(
        [f"{count:,} messages per mode, each message with a client id", line(head), rule]
        + [line(r) for r in rows]
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5000, help="messages per mode")
    parser.add_argument("--batch", type=int, default=256, help="messages per batch")
    parser.add_argument("--mysql-host", default="127.0.0.1")
    parser.add_argument("--mysql-port", type=int, default=3306)
    parser.add_argument("--mysql-user", default="root")
    parser.add_argument("--mysql-password", default="")
    args = parser.parse_args(argv)
    print(table(trio.run(run, args), args.messages, args.batch))


if __name__ == "__main__":
    main()
