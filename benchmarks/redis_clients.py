"""PING round trips and pipelined PUBLISHes through three Redis clients, from Trio.

    pip install redis trio-asyncio && python benchmarks/redis_clients.py

Compares redis.asyncio driven from Trio through trio-asyncio, redis.asyncio on
plain asyncio (what it costs without the bridge), and chat_trio.bus.resp (the
client the Redis bus uses). docs/scaling.md, "Choosing the client", quotes it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
import trio
import trio_asyncio

from chat_trio.bus.resp import RedisAddress, RedisConnection

URL = "redis://127.0.0.1:6379/0"
PINGS = 2000
BATCHES, PER_BATCH = 100, 100


async def _timed(step: Callable[[], Awaitable[object]], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        await step()
    return (time.perf_counter() - started) / n * 1e6


async def _publish_batch(client: aioredis.Redis) -> None:
    pipe = client.pipeline(transaction=False)
    for _ in range(PER_BATCH):
        pipe.publish("chat_trio_bench:nobody", b"y" * 200)
    await pipe.execute()


async def trio_asyncio_client() -> tuple[float, float]:
    async with trio_asyncio.open_loop():
        client = aioredis.Redis.from_url(URL)
        try:
            ping = trio_asyncio.aio_as_trio(client.ping)
            await ping()
            rtt = await _timed(ping, PINGS)
            batch = trio_asyncio.aio_as_trio(_publish_batch)
            per = await _timed(lambda: batch(client), BATCHES) / PER_BATCH
        finally:
            await trio_asyncio.aio_as_trio(client.aclose)()
    return rtt, per


async def plain_asyncio_client() -> tuple[float, float]:
    client = aioredis.Redis.from_url(URL)
    try:
        await client.ping()
        rtt = await _timed(client.ping, PINGS)
        per = await _timed(lambda: _publish_batch(client), BATCHES) / PER_BATCH
    finally:
        await client.aclose()
    return rtt, per


async def resp_client() -> tuple[float, float]:
    connection = await RedisConnection.open(RedisAddress.parse(URL))
    try:
        rtt = await _timed(lambda: connection.execute(("PING",)), PINGS)
        batch = [("PUBLISH", "chat_trio_bench:nobody", b"y" * 200)] * PER_BATCH
        per = await _timed(lambda: connection.execute(*batch), BATCHES) / PER_BATCH
    finally:
        await connection.aclose()
    return rtt, per


def main() -> None:
    results = {
        "redis.asyncio via trio-asyncio": trio.run(trio_asyncio_client),
        "redis.asyncio on asyncio": asyncio.run(plain_asyncio_client()),
        "chat_trio.bus.resp on Trio": trio.run(resp_client),
    }
    print(f"{'client':34} {'PING us':>8} {'PUBLISH us (pipelined)':>24}")
    for name, (rtt, per) in results.items():
        print(f"{name:34} {rtt:8.0f} {per:24.1f}")


if __name__ == "__main__":
    main()
