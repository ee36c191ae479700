"""Load two chat-trio nodes (MariaDB + Redis) and measure cross-node delivery.

    python benchmarks/multinode.py --pairs 20 --messages 500 [--same-node]

Starts two ``chat_trio serve`` processes on a throwaway MariaDB database and a
fresh Redis key prefix, signs up ``pairs`` senders on node A and as many
receivers on node B (or on A with ``--same-node``), and has every sender send
``messages`` texts to its receiver as fast as the acks come back (``--window``
unacked messages per sender, 64 by default). It prints the messages delivered per second,
the delivery latency (send to receipt, one clock), and Redis commands and bytes
per message from ``INFO stats`` deltas (the whole Redis server is counted, so
run it on a quiet Redis). Everything it created is removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import pymysql
import trio

from chat_trio.bus.resp import RedisAddress, RedisConnection
from chat_trio.client import ChatClient
from chat_trio.model import FrameType

PASSWORD = "bench-password-1"
REDIS_URL = "redis://127.0.0.1:6379/0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_node(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "chat_trio", "serve", "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent,
        )
    deadline = time.monotonic() + 30
    with httpx.Client() as http:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if http.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    return process
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"node on port {port} did not become ready; see {log}")


async def redis_stats() -> dict[str, int]:
    connection = await RedisConnection.open(RedisAddress.parse(REDIS_URL))
    try:
        (reply,) = await connection.execute(("INFO", "stats"))
    finally:
        await connection.aclose()
    assert isinstance(reply, bytes)
    wanted = ("total_commands_processed", "total_net_input_bytes", "total_net_output_bytes")
    values = {}
    for line in reply.decode().splitlines():
        key, _, value = line.partition(":")
        if key in wanted:
            values[key] = int(value)
    return values


async def run(url_a: str, url_b: str, pairs: int, messages: int, window_size: int) -> None:
    latencies: list[float] = []
    run_id = uuid.uuid4().hex[:6]
    async with contextlib.AsyncExitStack() as stack:
        senders, receivers = [], []
        for i in range(pairs):
            s = await stack.enter_async_context(ChatClient(url_a))
            await s.signup(f"s{run_id}{i}", PASSWORD)
            r = await stack.enter_async_context(ChatClient(url_b))
            await r.signup(f"r{run_id}{i}", PASSWORD)
            senders.append(s)
            receivers.append(r)
        sconns = [await stack.enter_async_context(s.connect()) for s in senders]
        rconns = [await stack.enter_async_context(r.connect()) for r in receivers]
        for s, r in zip(senders, receivers, strict=True):
            assert r.me is not None
            with trio.fail_after(30):
                while True:
                    answer = await s.request("GET", "/user/online", params={"uuid": r.me.uuid})
                    if answer["online"]:
                        break
                    await trio.sleep(0.05)

        before = await redis_stats()
        started = time.perf_counter()

        async def send(i: int) -> None:
            conn, target = sconns[i], receivers[i].me
            assert target is not None
            window = trio.Semaphore(window_size)

            async def acks() -> None:
                for _ in range(messages):
                    while (await conn.receive()).type != FrameType.ACK:
                        pass
                    window.release()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(acks)
                for _ in range(messages):
                    await window.acquire()
                    await conn.send_text(target.uuid, repr(time.perf_counter()))

        async def receive(i: int) -> None:
            for _ in range(messages):
                frame = await rconns[i].receive_chat()
                latencies.append(time.perf_counter() - float(frame.content))

        with trio.fail_after(600):
            async with trio.open_nursery() as nursery:
                for i in range(pairs):
                    nursery.start_soon(send, i)
                    nursery.start_soon(receive, i)
        elapsed = time.perf_counter() - started
        after = await redis_stats()

    total = pairs * messages
    latencies.sort()
    per = {k: (after[k] - before[k]) / total for k in before}
    print(f"{total} messages in {elapsed:.2f} s: {total / elapsed:.0f} delivered/s")
    print(
        f"latency ms: p50 {statistics.median(latencies) * 1e3:.1f}, "
        f"p99 {latencies[int(len(latencies) * 0.99) - 1] * 1e3:.1f}"
    )
    print(
        "Redis per message: {:.2f} commands, {:.0f} bytes in, {:.0f} bytes out".format(
            per["total_commands_processed"], per["total_net_input_bytes"],
            per["total_net_output_bytes"],
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--same-node", action="store_true")
    parser.add_argument("--window", type=int, default=64, help="unacked messages per sender")
    args = parser.parse_args()
    run_id = uuid.uuid4().hex[:10]
    database = f"chat_trio_bench_{run_id}"
    db = pymysql.connect(host="127.0.0.1", user="root", password="")
    with db.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
    root = Path(tempfile.mkdtemp(prefix="chat-trio-bench-"))
    env = {
        **os.environ,
        "CHAT_TRIO_DATABASE_BACKEND": "mysql",
        "CHAT_TRIO_MYSQL_NAME": database,
        "CHAT_TRIO_MSGCHANNELTYPE_CHANNELTYPE": "redis",
        "CHAT_TRIO_MSGCHANNELTYPE_REDISURL": REDIS_URL,
        "CHAT_TRIO_MSGCHANNELTYPE_REDISPREFIX": f"chat_trio_bench_{run_id}",
        "CHAT_TRIO_STATICPATH_FILEPATH": str(root / "files"),
        "CHAT_TRIO_AUTH_ARGON2MEMORYKIB": "1024",
        "CHAT_TRIO_AUTH_ARGON2TIMECOST": "1",
        "CHAT_TRIO_AUTH_ARGON2PARALLELISM": "1",
        "CHAT_TRIO_LIMITS_MESSAGESPERSECOND": "100000",
        "CHAT_TRIO_LIMITS_MESSAGEBURST": "100000",
        # Every load-generator user registers from 127.0.0.1.
        "CHAT_TRIO_LIMITS_REGISTRATIONSPERHOURPERADDRESS": "1000000",
        "CHAT_TRIO_LOG_LEVEL": "warning",
    }
    ports = free_port(), free_port()
    nodes = [start_node(env, ports[0], root / "a.log")]
    try:
        nodes.append(start_node(env, ports[1], root / "b.log"))
        url_a = f"http://127.0.0.1:{ports[0]}"
        url_b = url_a if args.same_node else f"http://127.0.0.1:{ports[1]}"
        trio.run(run, url_a, url_b, args.pairs, args.messages, args.window)
    finally:
        for process in nodes:
            process.send_signal(signal.SIGTERM)
            process.wait(15)
        with db.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{database}`")
        db.close()


if __name__ == "__main__":
    main()
