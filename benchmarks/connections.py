"""Open many connections to one chat-trio server: memory each, handshakes/s, HTTP meanwhile.

    python benchmarks/connections.py                    # 10,000 connections
    python benchmarks/connections.py --connections 200  # a quick look

Starts ``chat_trio serve`` as a subprocess (CPU 0 when there are two; this
script on CPU 1) on its own SQLite file and port, with the descriptor limit
raised to the hard cap and ``[server] maxConnections`` above the target.
Registers one user per connection over HTTP and logs each in (setup, not
measured), opens 50 warm-up sockets and closes them, then opens every socket
with a token on its handshake (``--concurrency`` handshakes in flight), as
real users would. Meanwhile a probe asks ``GET /healthz`` on a fresh TCP
connection every ``--probe-interval`` seconds and times the answer. Once all
are open it sends one heartbeat on every socket and counts the pongs (every
connection still works), then reports:

- handshakes/s over the ramp, and per second of server CPU;
- server RSS before and after, and KB per connection;
- the probe's answers during the ramp: count, failures, p50/p99/max.

Exits 1 when a socket failed to open, a heartbeat went unanswered, or a probe
failed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid as uuid_lib
from pathlib import Path

import httpx
import trio
import trio_websocket

sys.path.insert(0, str(Path(__file__).resolve().parent))

from soak import (
    SERVER_ENV,
    cpu_seconds,
    free_port,
    percentile,
    raise_descriptor_limit,
    rss_kib,
    start_server,
)

from chat_trio import codec
from chat_trio.model import FrameType

PASSWORD = "conn-password-1"
WARM = 50


async def register(url: str, count: int, concurrency: int) -> list[tuple[str, str]]:
    run = uuid_lib.uuid4().hex[:6]
    users: list[tuple[str, str]] = [("", "")] * count
    limit = trio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:

        async def one(i: int) -> None:
            name = f"c{run}u{i}"
            async with limit:
                r = await http.post("/user/register", json={"username": name, "password": PASSWORD})
                if r.status_code != 201:
                    raise SystemExit(f"register refused: {r.status_code} {r.text[:200]}")
                r = await http.post("/user/login", json={"username": name, "password": PASSWORD})
                data = r.json()["data"]
                users[i] = (data["uuid"], data["token"])

        async with trio.open_nursery() as nursery:
            for i in range(count):
                nursery.start_soon(one, i)
    return users


class Ramp:
    def __init__(self, ws_url: str, users: list[tuple[str, str]], concurrency: int) -> None:
        self.ws_url = ws_url
        self.users = users
        self.limit = trio.Semaphore(concurrency)
        self.open: list[trio_websocket.WebSocketConnection] = []
        self.failed: list[str] = []

    async def hold(self, user: tuple[str, str], opened: trio.Event, release: trio.Event) -> None:
        """Open one socket, say so, and keep it open (reading) until ``release``."""
        url = f"{self.ws_url}/socket.io?user={user[0]}&token={user[1]}"
        try:
            await self.limit.acquire()
            held = True
            try:
                async with trio_websocket.open_websocket_url(url) as ws:
                    await ws.get_message()  # the welcome: the session is registered
                    self.limit.release()
                    held = False
                    self.open.append(ws)
                    opened.set()
                    await release.wait()
            finally:
                if held:
                    self.limit.release()
        except Exception as exc:  # counted and reported; the run goes on
            self.failed.append(f"{type(exc).__name__}: {exc}"[:200])
            opened.set()


async def probe(url: str, interval: float, stop: trio.Event, times: list[float],
                failures: list[str]) -> None:
    """GET /healthz on a fresh connection every ``interval`` s until ``stop``."""
    while not stop.is_set():
        started = time.perf_counter()
        try:
            async with httpx.AsyncClient(timeout=30) as http:
                r = await http.get(f"{url}/healthz")
            if r.status_code == 200:
                times.append(time.perf_counter() - started)
            else:
                failures.append(f"status {r.status_code}")
        except httpx.HTTPError as exc:
            failures.append(type(exc).__name__)
        with trio.move_on_after(interval):
            await stop.wait()


async def heartbeat_all(sockets: list[trio_websocket.WebSocketConnection]) -> int:
    """One heartbeat on every socket; the number that answered with a pong."""
    ping = codec.encode(codec.Message(type=FrameType.HEARTBEAT, content="ping"))
    answered = 0
    limit = trio.Semaphore(200)

    async def one(ws: trio_websocket.WebSocketConnection) -> None:
        nonlocal answered
        async with limit:
            with trio.move_on_after(60), contextlib.suppress(trio_websocket.ConnectionClosed):
                await ws.send_message(ping)
                while codec.decode(await ws.get_message()).type != FrameType.HEARTBEAT:
                    pass
                answered += 1

    async with trio.open_nursery() as nursery:
        for ws in sockets:
            nursery.start_soon(one, ws)
    return answered


async def run(args: argparse.Namespace, url: str, pid: int) -> bool:
    t = time.monotonic()
    users = await register(url, args.connections + WARM, args.register_concurrency)
    print(f"setup: {len(users)} users registered and logged in in {time.monotonic() - t:.0f} s",
          flush=True)
    ws_url = url.replace("http://", "ws://", 1)

    warm = Ramp(ws_url, users[:WARM], WARM)
    release_warm = trio.Event()
    async with trio.open_nursery() as nursery:
        events = [trio.Event() for _ in range(WARM)]
        for user, event in zip(warm.users, events, strict=True):
            nursery.start_soon(warm.hold, user, event, release_warm)
        for event in events:
            await event.wait()
        release_warm.set()
    await trio.sleep(1)
    rss0, cpu0 = rss_kib(pid), cpu_seconds(pid)

    ramp = Ramp(ws_url, users[WARM:], args.concurrency)
    release = trio.Event()
    stop_probe = trio.Event()
    probe_times: list[float] = []
    probe_failures: list[str] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(probe, url, args.probe_interval, stop_probe, probe_times,
                           probe_failures)
        started, load0 = time.perf_counter(), time.process_time()
        events = [trio.Event() for _ in ramp.users]
        for user, event in zip(ramp.users, events, strict=True):
            nursery.start_soon(ramp.hold, user, event, release)
        with trio.fail_after(args.timeout):
            for event in events:
                await event.wait()
        elapsed = time.perf_counter() - started
        server_cpu = cpu_seconds(pid) - cpu0
        load_cpu = time.process_time() - load0
        stop_probe.set()
        await trio.sleep(2)
        rss1 = rss_kib(pid)
        answered = await heartbeat_all(ramp.open)
        release.set()

    n = len(ramp.open)
    print(f"connections: {n} open of {args.connections} ({len(ramp.failed)} failed) in "
          f"{elapsed:.1f} s, {args.concurrency} handshakes in flight")
    print(f"handshakes/s: {n / elapsed:.0f}; per server-CPU-second: "
          f"{n / server_cpu:.0f} (server CPU {server_cpu:.1f} s, "
          f"{server_cpu / elapsed * 100:.0f}% of one CPU during the ramp; this load generator "
          f"{load_cpu:.1f} s, {load_cpu / elapsed * 100:.0f}%)")
    print(f"server rss: {rss0 / 1024:.1f} MiB before, {rss1 / 1024:.1f} MiB after; "
          f"{(rss1 - rss0) / max(n, 1):.1f} KB per connection")
    if probe_times:
        print(f"GET /healthz during the ramp: {len(probe_times)} answered, "
              f"{len(probe_failures)} failed; p50 {percentile(probe_times, 0.5) * 1e3:.1f} ms, "
              f"p99 {percentile(probe_times, 0.99) * 1e3:.1f} ms, "
              f"max {max(probe_times) * 1e3:.1f} ms")
    else:
        print(f"GET /healthz during the ramp: none answered, {len(probe_failures)} failed")
    print(f"heartbeats answered after the ramp: {answered} of {n}")
    for why in sorted(set(ramp.failed))[:5]:
        print(f"failed: {why}")
    for why in sorted(set(probe_failures))[:5]:
        print(f"probe failed: {why}")
    ok = n == args.connections and answered == n and not probe_failures and bool(probe_times)
    print(f"connections: {'PASS' if ok else 'FAIL'}")
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connections", type=int, default=10_000)
    ap.add_argument("--concurrency", type=int, default=100, help="handshakes in flight")
    ap.add_argument("--register-concurrency", type=int, default=16)
    ap.add_argument("--probe-interval", type=float, default=0.25)
    ap.add_argument("--timeout", type=float, default=600, help="bound on the ramp, s")
    args = ap.parse_args(argv)
    if args.connections < 1:
        ap.error("--connections: at least 1")
    # This process holds one descriptor per socket, the server as many, plus a reserve.
    limit = raise_descriptor_limit(args.connections + WARM + 1000)
    root = Path(tempfile.mkdtemp(prefix="chat-trio-conns-"))
    env = {
        **os.environ, **SERVER_ENV,
        "CHAT_TRIO_SQLITE_PATH": str(root / "chat.db"),
        "CHAT_TRIO_STATICPATH_FILEPATH": str(root / "files"),
        "CHAT_TRIO_SERVER_MAXCONNECTIONS": str(args.connections + WARM + 500),
        # The sockets only listen: no heartbeats until the end.
        "CHAT_TRIO_LIMITS_IDLETIMEOUT": "3600",
    }
    port = free_port()
    print(f"connections: {args.connections} to one server; descriptors {limit}; data {root}",
          flush=True)
    server = start_server(env, port, root)
    if (os.cpu_count() or 1) >= 2:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {1})
    try:
        ok = trio.run(run, args, f"http://127.0.0.1:{port}", server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    if ok:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
