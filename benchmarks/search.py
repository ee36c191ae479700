"""Message search latency on SQLite (FTS5) and MariaDB (FULLTEXT), one table.

    python benchmarks/search.py [--messages 1000000] [--queries 200] [--users 10000]
        [--groups 1000] [--backends sqlite,mysql] [--mysql-host 127.0.0.1] ...

Loads the same generated data into SQLite (a temporary directory) and into a
throwaway MariaDB/MySQL database ``chat_trio_bench_<random>`` (dropped at the
end), then times ``Store.search_messages`` (the call behind GET
/message/search: SQL, the check of every candidate in Python, the names of the
page's senders and conversations) for one-word, two-word, phrase and prefix
queries, each as a random user searching everything it may read, first page of
20. It prints the load times and one table of p50/p99 latency per backend and
kind of query.

The data: ``--users`` users, each with a handful of one-to-one contacts;
``--groups`` groups whose sizes follow a long tail (most small, a few with
hundreds of members); half the messages are one-to-one, half go to groups.
Message text is 3 to 30 words drawn from a 30,000-word generated vocabulary
with a Zipf distribution (s = 1.07), the commonest words being real English
function words. Query words are drawn from the same distribution past its 100
commonest words (nobody searches for "the"); a phrase is two adjacent words of
a message the user can read, so it always finds something; a prefix is the
first four letters of a query word.

Rows are bulk-inserted through the DB-API's executemany. On SQLite the FTS5
triggers index them as they go in, as in production. On MariaDB the FULLTEXT
index is dropped for the load and built afterwards, which is what the schema
migration does for an existing database; its time is printed apart.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import random
import secrets
import statistics
import tempfile
import time
import uuid as uuid_lib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql
import trio

from chat_trio.config import Config, MysqlConfig
from chat_trio.search import parse_query
from chat_trio.storage import SqlStore, open_storage
from chat_trio.storage.message_search import SearchRequest
from chat_trio.storage.schema import search_scope

FUNCTION_WORDS = (
    "the", "to", "and", "you", "a", "i", "it", "of", "is", "that", "in", "for", "on",
    "this", "we", "have", "be", "not", "are", "with", "me", "do", "so", "but", "was", "at",
    "just", "can", "what", "my", "if", "all", "your", "get", "they", "will", "no", "yes",
    "ok", "like", "know", "one", "there", "now", "good", "think", "about", "up", "out",
    "how", "time", "when", "go", "see", "then", "here", "well", "want",
)
SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]
KINDS = ("one word", "two words", "phrase", "prefix")
PAGE = 20


def vocabulary(size: int, rng: random.Random) -> list[str]:
    """The function words, then made-up words of 2 to 4 syllables, all distinct."""
    words = list(dict.fromkeys(FUNCTION_WORDS))
    seen = set(words)
    while len(words) < size:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def zipf_weights(n: int, s: float = 1.07) -> list[float]:
    cumulative, total = [], 0.0
    for rank in range(1, n + 1):
        total += 1.0 / rank**s
        cumulative.append(total)
    return cumulative


@dataclass
class World:
    """The generated data, the same for both backends."""

    users: int
    groups: list[list[int]]  # members (user numbers, 1-based) of each group
    contacts: list[list[int]]  # the one-to-one peers of each user (index = user - 1)
    words: list[str]
    cumulative: list[float]
    seed: int
    members_of: dict[int, list[int]] = field(default_factory=dict)  # user -> its groups


def make_world(users: int, groups: int, seed: int) -> World:
    rng = random.Random(seed)
    words = vocabulary(30_000, rng)
    member_lists = []
    for _ in range(groups):
        size = min(users, max(3, int(rng.paretovariate(1.2) * 4)), 500)
        member_lists.append(rng.sample(range(1, users + 1), size))
    contacts = [
        [rng.randint(1, users) for _ in range(rng.randint(1, 12))] for _ in range(users)
    ]
    world = World(users, member_lists, contacts, words, zipf_weights(len(words)), seed)
    for g, members in enumerate(member_lists, start=1):
        for u in members:
            world.members_of.setdefault(u, []).append(g)
    return world


def message_rows(world: World, count: int, start_ms: int) -> Iterator[tuple[Any, ...]]:
    """(from, to, message_type, content_type, content, url, client_id, created_at,
    search_scope): the row the store writes."""
    rng = random.Random(world.seed + 1)
    words, cumulative = world.words, world.cumulative
    top = cumulative[-1]
    for i in range(count):
        length = rng.randint(3, 30)
        text = " ".join(
            words[bisect.bisect_left(cumulative, rng.random() * top)] for _ in range(length)
        )
        if i % 2:
            g = rng.randrange(len(world.groups))
            yield (
                rng.choice(world.groups[g]), g + 1, 2, 1, text, "", None, start_ms + i,
                search_scope(2, 0, g + 1),
            )
        else:
            a = rng.randint(1, world.users)
            b = rng.choice(world.contacts[a - 1])
            yield (a, b, 1, 1, text, "", None, start_ms + i, search_scope(1, a, b))


def chunks(rows: Iterator[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    while batch := list(itertools.islice(rows, size)):
        yield batch


def load(store: SqlStore, world: World, count: int, placeholder: str) -> None:
    """Users, groups, members and messages through executemany, in the store's tables.

    Blocking (a worker thread). Ids are given explicitly: user n has id n, group g id g.
    """
    s = store.schema
    p = placeholder
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.executemany(
            f"INSERT INTO {s.users.name} (id, uuid, username, nickname, email, avatar, "
            f"password_hash, created_at, updated_at) "
            f"VALUES ({p}, {p}, {p}, {p}, '', '', 'x', 0, 0)",
            [
                (n, str(uuid_lib.UUID(int=n)), f"user{n}", f"user{n}")
                for n in range(1, world.users + 1)
            ],
        )
        cursor.executemany(
            f"INSERT INTO {s.groups.name} (id, uuid, user_id, name, notice, created_at) "
            f"VALUES ({p}, {p}, {p}, {p}, '', 0)",
            [
                (g, str(uuid_lib.UUID(int=10**9 + g)), members[0], f"group{g}")
                for g, members in enumerate(world.groups, start=1)
            ],
        )
        cursor.executemany(
            f"INSERT INTO {s.group_members.name} (group_id, user_id, nickname, created_at) "
            f"VALUES ({p}, {p}, '', 0)",
            [(g, u) for g, members in enumerate(world.groups, start=1) for u in members],
        )
        raw.commit()
        insert = (
            f"INSERT INTO {s.messages.name} (from_user_id, to_user_id, message_type, "
            f"content_type, content, url, client_id, created_at, search_scope) "
            f"VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})"
        )
        for batch in chunks(message_rows(world, count, 1_700_000_000_000), 20_000):
            cursor.executemany(insert, batch)
            raw.commit()
        cursor.close()
    finally:
        raw.close()


def query_word(world: World, rng: random.Random) -> str:
    """A word from the message distribution, past its 100 commonest."""
    top = world.cumulative[-1]
    low = world.cumulative[99]
    return world.words[bisect.bisect_left(world.cumulative, low + rng.random() * (top - low))]


def phrase_for(store: SqlStore, user: int, world: World, rng: random.Random) -> str:
    """Two adjacent words of the newest message in one of the user's groups or
    conversations (blocking; each look-up is one index range, newest first)."""
    from sqlalchemy import select

    m = store.schema.messages
    places: list[tuple[int, int, int | None]] = [
        (2, g, None) for g in world.members_of.get(user, [])
    ]
    places += [(1, peer, user) for peer in world.contacts[user - 1]]
    rng.shuffle(places)
    with store.engine.connect() as conn:
        for kind, to, sender in places[:5]:
            query = select(m.c.content).where(m.c.message_type == kind, m.c.to_user_id == to)
            if sender is not None:
                query = query.where(m.c.from_user_id == sender)
            row = conn.execute(query.order_by(m.c.id.desc()).limit(1)).first()
            if row is not None and len(words := row[0].split()) >= 2:
                i = rng.randrange(len(words) - 1)
                return f'"{words[i]} {words[i + 1]}"'
    return f'"{query_word(world, rng)} {query_word(world, rng)}"'


def queries(world: World, store: SqlStore, per_kind: int) -> list[tuple[str, int, str]]:
    """(kind, user, query) for every timed query, made before any is timed."""
    rng = random.Random(world.seed + 2)
    out = []
    for kind in KINDS:
        for _ in range(per_kind):
            user = rng.randint(1, world.users)
            if kind == "one word":
                q = query_word(world, rng)
            elif kind == "two words":
                q = f"{query_word(world, rng)} {query_word(world, rng)}"
            elif kind == "phrase":
                q = phrase_for(store, user, world, rng)
            else:
                q = query_word(world, rng)[:4] + "*"
            out.append((kind, user, q))
    return out


@dataclass(frozen=True)
class Timing:
    backend: str
    kind: str
    p50_ms: float
    p99_ms: float
    mean_hits: float
    count: int


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def measure(
    backend: str, config: Config, world: World, count: int, per_kind: int
) -> tuple[list[Timing], dict[str, float]]:
    phases: dict[str, float] = {}
    async with open_storage(config) as store:
        placeholder = "?" if backend == "sqlite" else "%s"
        index = next(
            i for i in store.schema.messages.indexes if str(i.name).endswith("ft_messages_content")
        )
        if backend == "mysql":
            await trio.to_thread.run_sync(lambda: _drop_index(store, str(index.name)))
        started = time.perf_counter()
        await trio.to_thread.run_sync(lambda: load(store, world, count, placeholder))
        phases["load"] = time.perf_counter() - started
        if backend == "mysql":
            started = time.perf_counter()
            await trio.to_thread.run_sync(lambda: _create_index(store, index))
            phases["index"] = time.perf_counter() - started
        planned = await trio.to_thread.run_sync(lambda: queries(world, store, per_kind))
        # one warm-up pass of a few queries: the first touch of the index pages
        for _, user, q in planned[:: max(1, len(planned) // 20)]:
            await store.search_messages(SearchRequest(user, parse_query(q), PAGE))
        times: dict[str, list[float]] = {k: [] for k in KINDS}
        hits: dict[str, list[int]] = {k: [] for k in KINDS}
        for kind, user, q in planned:
            request = SearchRequest(user, parse_query(q), PAGE)
            started = time.perf_counter()
            page = await store.search_messages(request)
            times[kind].append((time.perf_counter() - started) * 1000)
            hits[kind].append(len(page.hits))
    return [
        Timing(
            backend, kind, percentile(times[kind], 0.5), percentile(times[kind], 0.99),
            statistics.mean(hits[kind]), len(times[kind]),
        )
        for kind in KINDS
    ], phases


def _drop_index(store: SqlStore, name: str) -> None:
    """The messages table made again without its FULLTEXT index: a table at schema
    version 2, which is where the migration finds an existing database. (Dropping
    only the index and adding it back after the load left MariaDB 10.11 with an
    index whose MATCH found nothing.)"""
    from sqlalchemy.schema import CreateTable

    messages = store.schema.messages
    with store.engine.begin() as conn:
        messages.drop(conn)
        conn.execute(CreateTable(messages))
        for index in messages.indexes:
            if index.name != name:
                index.create(conn)


def _create_index(store: SqlStore, index: Any) -> None:
    with store.engine.begin() as conn:
        index.create(conn)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200, help="per kind of query")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--backends", default="sqlite,mysql")
    parser.add_argument("--mysql-host", default="127.0.0.1")
    parser.add_argument("--mysql-port", type=int, default=3306)
    parser.add_argument("--mysql-user", default="root")
    parser.add_argument("--mysql-password", default="")
    args = parser.parse_args(argv)
    backends = [b for b in args.backends.split(",") if b]
    if not set(backends) <= {"sqlite", "mysql"} or not backends:
        parser.error("--backends takes sqlite, mysql or both, comma-separated")
    if args.messages < 1 or args.queries < 1 or args.users < 2 or args.groups < 1:
        parser.error("--messages, --queries and --groups must be positive, --users at least 2")
    world = make_world(args.users, args.groups, args.seed)
    print(
        f"{args.messages} messages, {args.users} users, {args.groups} groups "
        f"({sum(map(len, world.groups))} memberships), {args.queries} queries per kind, "
        f"first page of {PAGE}"
    )
    results: list[Timing] = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            config = Config().replace("sqlite", path=str(Path(tmp) / "search.db"))
            database = None
            if backend == "mysql":
                database = f"chat_trio_bench_{secrets.token_hex(4)}"
                mysql = MysqlConfig(
                    host=args.mysql_host, port=args.mysql_port, user=args.mysql_user,
                    password=args.mysql_password, name=database, timeout=3600.0,
                )
                config = config.replace("database", backend="mysql").replace(
                    "mysql", **mysql.__dict__
                )
            try:
                timings, phases = trio.run(measure, backend, config, world, args.messages,
                                           args.queries)
            finally:
                if database is not None:
                    _drop_database(args, database)
            results += timings
            spent = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in phases.items())
            print(f"{backend}: {spent}")
    print()
    print("| backend | query | queries | p50 ms | p99 ms | hits per page |")
    print("|---|---|---:|---:|---:|---:|")
    for t in results:
        print(
            f"| {t.backend} | {t.kind} | {t.count} | {t.p50_ms:.1f} | {t.p99_ms:.1f} "
            f"| {t.mean_hits:.1f} |"
        )


def _drop_database(args: argparse.Namespace, name: str) -> None:
    conn = pymysql.connect(
        host=args.mysql_host, port=args.mysql_port, user=args.mysql_user,
        password=args.mysql_password, autocommit=True,
    )
    with conn, conn.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


if __name__ == "__main__":
    main()
