"""The Redis bus alone: frames per second from one node's bus to another's.

    python benchmarks/bus.py [--frames 50000] [--size 200] [--recipients 1]

Two RedisBus objects in one process (each with its own connections, as two
nodes would have), no database and no sockets to clients: node B holds the
recipients, node A publishes ``frames`` frames of ``size`` bytes, and the time
runs until B's hub inbox has them all. Also prints Redis commands and bytes per
frame from ``INFO stats`` deltas (run it on a quiet Redis), and the round trip
of one PING through this client, for comparison with other clients.
"""

from __future__ import annotations

import argparse
import time
import uuid

import trio

from chat_trio.bus.redis import RedisBus
from chat_trio.bus.resp import RedisAddress, RedisConnection
from chat_trio.hub import HubEvent

URL = "redis://127.0.0.1:6379/0"


async def stats() -> dict[str, int]:
    connection = await RedisConnection.open(RedisAddress.parse(URL))
    try:
        (reply,) = await connection.execute(("INFO", "stats"))
    finally:
        await connection.aclose()
    assert isinstance(reply, bytes)
    out = {}
    for line in reply.decode().splitlines():
        key, _, value = line.partition(":")
        if key in ("total_commands_processed", "total_net_input_bytes", "total_net_output_bytes"):
            out[key] = int(value)
    return out


async def ping_round_trip(n: int = 2000) -> float:
    connection = await RedisConnection.open(RedisAddress.parse(URL))
    try:
        started = time.perf_counter()
        for _ in range(n):
            await connection.execute(("PING",))
        return (time.perf_counter() - started) / n
    finally:
        await connection.aclose()


async def main(frames: int, size: int, recipients: int) -> None:
    prefix = f"chat_trio_bench_{uuid.uuid4().hex[:8]}"
    inbox_a, _ = trio.open_memory_channel[HubEvent](4096)
    inbox_b, received = trio.open_memory_channel[HubEvent](4096)
    users = [f"user-{i}" for i in range(recipients)]
    a = RedisBus(URL, prefix, inbox_a, local_users=lambda: (), buffer=frames)
    b = RedisBus(URL, prefix, inbox_b, local_users=lambda: users)
    async with trio.open_nursery() as nursery:
        await nursery.start(a.run)
        await nursery.start(b.run)
        for user in users:
            b.presence_changed(user, True)
        with trio.fail_after(30):
            while not all(a.nodes_elsewhere(u) for u in users):  # noqa: ASYNC110
                await trio.sleep(0.01)
        payload = b"x" * size
        before = await stats()
        started = time.perf_counter()

        async def publish() -> None:
            for i in range(frames):
                a.publish(payload, users)
                if i % 256 == 255:
                    await trio.lowlevel.checkpoint()  # let the pump run, as the writer's awaits do

        nursery.start_soon(publish)
        with trio.fail_after(300):
            for _ in range(frames):
                await received.receive()
        elapsed = time.perf_counter() - started
        after = await stats()
        nursery.cancel_scope.cancel()
    per = {k: (after[k] - before[k]) / frames for k in before}
    print(f"{frames} frames of {size} bytes to {recipients} recipient(s) on another node: "
          f"{frames / elapsed:.0f} frames/s")
    print("Redis per frame: {:.3f} commands, {:.0f} bytes in, {:.0f} bytes out".format(
        per["total_commands_processed"], per["total_net_input_bytes"],
        per["total_net_output_bytes"]))
    print(f"PING round trip through this client: {await ping_round_trip() * 1e6:.0f} us")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=50_000)
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--recipients", type=int, default=1)
    args = parser.parse_args()
    trio.run(main, args.frames, args.size, args.recipients)
