"""Soak one chat-trio server: many connections, steady traffic, drops, then check nothing was lost.

    python benchmarks/soak.py                       # 2,000 connections for 10 minutes
    python benchmarks/soak.py --connections 20 --seconds 6 --bucket-seconds 2

Starts ``chat_trio serve`` as a subprocess on its own SQLite file and port (the
server on CPU 0, this load generator on CPU 1 when there are two), registers one
user per connection, puts them in groups, and opens one socket per user with
``?features=presence,typing,reads``. Each socket heartbeats every 10 seconds. At a
steady rate random users send one-to-one and group texts, each with a clientId,
often after a typing frame; receivers send read frames for some of what they
get. Every bucket (a minute by default) one percent of the users drop their
socket, stay away two seconds, reconnect, catch up with ``sync`` from the last
id they saw and send again whatever was not acked, with the same clientId.

Afterwards it checks, and exits 1 when a check fails:

- every acked message is stored exactly once (the SQLite file, per clientId and
  per content, which holds a unique token);
- every acked message reached every recipient device (each member but the
  sender) exactly once, live or through catch-up; a second copy is tolerated
  only when one of the two arrived while that device was catching up (the
  protocol says to deduplicate by id there), and those overlaps are counted;
- the server's RSS at the end is at most ``--max-rss-growth`` percent (5) above
  its RSS after the first bucket.

It prints per bucket: messages sent and acked, live deliveries, p50/p99 delivery
latency (send to receipt, one clock, live deliveries only), drops and the
server's RSS; then CPU seconds of the server and of the load generator.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import random
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid as uuid_lib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import trio
import trio_websocket

from chat_trio import codec
from chat_trio.model import ContentType, FrameType, MessageType

Message = codec.Message
PASSWORD = "soak-password-1"
FEATURES = "presence,typing,reads"
HEARTBEAT_SECONDS = 10.0
OFFLINE_SECONDS = 2.0
SERVER_ENV = {
    "CHAT_TRIO_AUTH_ARGON2MEMORYKIB": "1024",
    "CHAT_TRIO_AUTH_ARGON2TIMECOST": "1",
    "CHAT_TRIO_AUTH_ARGON2PARALLELISM": "1",
    "CHAT_TRIO_LOG_LEVEL": "warning",
    # Every soak user registers from 127.0.0.1.
    "CHAT_TRIO_LIMITS_REGISTRATIONSPERHOURPERADDRESS": "1000000",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def raise_descriptor_limit(needed: int) -> int:
    """Lift the soft RLIMIT_NOFILE to the hard cap (the server inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(needed, soft)
    if target < needed:
        sys.exit(f"soak: needs {needed} descriptors, the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return int(target)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (its threads included), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Sent:
    """One message a device sent: where to, and its id once acked."""

    to: str
    group: bool
    content: str
    sent_at: float
    id: int = 0


@dataclass
class Device:
    """One user's one socket, kept across reconnects."""

    index: int
    uuid: str
    token: str
    ws: trio_websocket.WebSocketConnection | None = None
    last_id: int = 0
    catching_up: bool = False
    drop: trio.Event = field(default_factory=trio.Event)
    sent: dict[str, Sent] = field(default_factory=dict)
    #: message id -> copies received; and ids of which one copy came while catching up.
    got: Counter[int] = field(default_factory=Counter)
    got_in_sync: set[int] = field(default_factory=set)
    #: For read frames: the newest one-to-one id received per peer.
    newest_from: dict[str, int] = field(default_factory=dict)
    connects: int = 0


@dataclass
class Stats:
    started: float
    bucket: float
    sent: Counter[int] = field(default_factory=Counter)
    acked: Counter[int] = field(default_factory=Counter)
    live: Counter[int] = field(default_factory=Counter)
    drops: Counter[int] = field(default_factory=Counter)
    latency: defaultdict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    rss: dict[int, int] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    typing: int = 0
    reads: int = 0
    overlaps: int = 0

    def now_bucket(self) -> int:
        return int((time.time() - self.started) // self.bucket)


class Soak:
    def __init__(self, args: argparse.Namespace, url: str, server_pid: int) -> None:
        self.args = args
        self.url = url
        self.ws_url = url.replace("http://", "ws://", 1)
        self.pid = server_pid
        self.devices: list[Device] = []
        self.by_uuid: dict[str, Device] = {}
        self.groups: dict[str, list[str]] = {}
        self.group_of: dict[str, str] = {}
        self.stopping = False
        self.rng = random.Random(args.seed)
        self.stats = Stats(started=time.time(), bucket=args.bucket_seconds)

    # -- setup --------------------------------------------------------------------------

    async def setup(self) -> None:
        run = uuid_lib.uuid4().hex[:6]
        limit = trio.Semaphore(16)
        async with httpx.AsyncClient(base_url=self.url, timeout=60) as http:

            async def post(path: str, token: str = "", **body: str) -> dict[str, str]:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                async with limit:
                    response = await http.post(path, json=body, headers=headers)
                data = response.json()
                if response.status_code >= 400 or data.get("code") != 0:
                    raise SystemExit(f"soak: {path} refused: {response.status_code} {data}")
                result: dict[str, str] = data.get("data") or {}
                return result

            async def signup(i: int) -> None:
                name = f"soak{run}u{i}"
                await post("/user/register", username=name, password=PASSWORD)
                me = await post("/user/login", username=name, password=PASSWORD)
                self.devices[i] = Device(i, me["uuid"], me["token"])

            self.devices = [Device(i, "", "") for i in range(self.args.connections)]
            async with trio.open_nursery() as nursery:
                for i in range(self.args.connections):
                    nursery.start_soon(signup, i)
            self.by_uuid = {d.uuid: d for d in self.devices}

            size = max(2, min(self.args.group_size, len(self.devices)))
            for start in range(0, len(self.devices) - size + 1, size):
                members = self.devices[start:start + size]
                owner = members[0]
                name = f"soak{run}g{start}"
                await post(f"/group/{owner.uuid}", owner.token, name=name, notice="soak")
                listed = await http.get(
                    f"/group/{owner.uuid}", headers={"Authorization": f"Bearer {owner.token}"}
                )
                group_uuid = next(g["uuid"] for g in listed.json()["data"] if g["name"] == name)

                async def join(member: Device, group_uuid: str = group_uuid) -> None:
                    await post(f"/group/join/{member.uuid}/{group_uuid}", member.token)

                async with trio.open_nursery() as nursery:
                    for member in members[1:]:
                        nursery.start_soon(join, member)
                self.groups[group_uuid] = [m.uuid for m in members]
                for m in members:
                    self.group_of[m.uuid] = group_uuid

    # -- one device ---------------------------------------------------------------------

    async def device(self, d: Device, opened: trio.Semaphore,
                     first: trio.Event | None) -> None:
        url = f"{self.ws_url}/socket.io?user={d.uuid}&token={d.token}&features={FEATURES}"
        while not self.stopping:
            try:
                await opened.acquire()
                held = True
                try:
                    async with trio_websocket.open_websocket_url(
                        url, max_message_size=1 << 24
                    ) as ws:
                        opened.release()
                        held = False
                        d.connects += 1
                        try:
                            await self.session(d, ws, first)
                        finally:
                            d.ws = None
                        first = None
                finally:
                    if held:  # refused before the release above
                        opened.release()
            except BaseException as exc:  # re-raised unless a disconnect
                leaf = disconnect(exc)
                if leaf is None:
                    raise
                if not self.stopping:
                    self.stats.errors[f"reconnect after {type(leaf).__name__}"] += 1
                    await trio.sleep(1)
                continue
            if d.drop.is_set():
                d.drop = trio.Event()
                await trio.sleep(OFFLINE_SECONDS)

    async def session(self, d: Device, ws: trio_websocket.WebSocketConnection,
                      first: trio.Event | None) -> None:
        welcome = codec.decode(await ws.get_message())
        if welcome.content != "welcome!":
            self.stats.errors["no welcome"] += 1
        async with trio.open_nursery() as nursery:
            if d.connects > 1:  # catch up first, then send what was not acked
                d.catching_up = True
                await ws.send_message(codec.encode(Message(type=FrameType.SYNC, id=d.last_id)))
            d.ws = ws
            for cid, sent in list(d.sent.items()):
                if not sent.id:
                    await self.send_frame(d, cid, sent)
            nursery.start_soon(self.heartbeat, ws)
            nursery.start_soon(self.watch_drop, d, ws, nursery.cancel_scope)
            if first is not None:
                first.set()
            try:
                while True:
                    frame = codec.decode(await ws.get_message())
                    await self.on_frame(d, ws, frame)
            except (trio_websocket.ConnectionClosed, trio.BrokenResourceError):
                if not d.drop.is_set() and not self.stopping:
                    self.stats.errors["closed by the server"] += 1
                nursery.cancel_scope.cancel()

    async def heartbeat(self, ws: trio_websocket.WebSocketConnection) -> None:
        await trio.sleep(self.rng.uniform(0, HEARTBEAT_SECONDS))
        ping = codec.encode(Message(type=FrameType.HEARTBEAT, content="ping"))
        with contextlib.suppress(trio_websocket.ConnectionClosed, trio.BrokenResourceError):
            while True:
                await ws.send_message(ping)
                await trio.sleep(HEARTBEAT_SECONDS)

    async def watch_drop(self, d: Device, ws: trio_websocket.WebSocketConnection,
                         scope: trio.CancelScope) -> None:
        await d.drop.wait()
        d.ws = None
        with contextlib.suppress(trio_websocket.ConnectionClosed, trio.BrokenResourceError):
            await ws.aclose()
        scope.cancel()

    async def on_frame(self, d: Device, ws: trio_websocket.WebSocketConnection,
                       frame: Message) -> None:
        kind = frame.type
        if kind == FrameType.ACK:
            sent = d.sent.get(frame.clientId)
            if sent is None:
                self.stats.errors["ack for an unknown clientId"] += 1
            elif sent.id and sent.id != frame.id:
                self.stats.errors["a second ack with another id"] += 1
            elif not sent.id:
                sent.id = frame.id
                self.stats.acked[int((sent.sent_at - self.stats.started) // self.stats.bucket)] += 1
            return
        if kind == FrameType.SYNC:
            if frame.content == "more":
                await ws.send_message(codec.encode(Message(type=FrameType.SYNC, id=frame.id)))
            else:
                d.catching_up = False
            return
        if kind == FrameType.ERROR:
            self.stats.errors[f"error frame {frame.code}: {frame.content[:60]}"] += 1
            return
        if kind in (FrameType.HEARTBEAT, "typing", "presence", FrameType.READ, FrameType.MUTE):
            return
        if kind != FrameType.CHAT or getattr(frame, "from") == "System" or not frame.id:
            return
        sender, own = self.sender_of(d, frame)
        if own:  # what this user sent, filed again through catch-up: not a delivery
            return
        d.got[frame.id] += 1
        if d.catching_up:
            d.got_in_sync.add(frame.id)
        d.last_id = max(d.last_id, frame.id)
        if not d.catching_up:
            stamp = float(frame.content.split(" ", 1)[0])
            b = int((stamp - self.stats.started) // self.stats.bucket)
            self.stats.live[b] += 1
            self.stats.latency[b].append(time.time() - stamp)
        if frame.messageType == MessageType.USER:
            d.newest_from[sender] = frame.id
            if self.rng.random() < self.args.read_share and d.ws is not None:
                self.stats.reads += 1
                await ws.send_message(codec.encode(Message(
                    type=FrameType.READ, to=sender, messageType=MessageType.USER, id=frame.id
                )))

    def sender_of(self, d: Device, frame: Message) -> tuple[str, bool]:
        """The sending user's uuid, and whether it is this device's own user."""
        if frame.messageType == MessageType.GROUP:
            return frame.to, frame.to == d.uuid
        sender = getattr(frame, "from")
        return sender, sender == d.uuid

    async def send_frame(self, d: Device, cid: str, sent: Sent) -> None:
        ws = d.ws
        if ws is None:
            return
        with contextlib.suppress(trio_websocket.ConnectionClosed, trio.BrokenResourceError):
            await ws.send_message(codec.encode(Message(
                to=sent.to, content=sent.content, contentType=ContentType.TEXT,
                messageType=MessageType.GROUP if sent.group else MessageType.USER,
                clientId=cid,
            )))

    # -- load ---------------------------------------------------------------------------

    async def traffic(self, until: float) -> None:
        """Steady sends: one-to-one and group in proportion, each at its own rate."""
        total_rate = self.args.rate + self.args.group_rate
        interval = 1.0 / total_rate
        next_at = trio.current_time()
        serial = 0
        async with trio.open_nursery() as nursery:
            while trio.current_time() < until:
                next_at += interval
                await trio.sleep_until(next_at)
                d = self.rng.choice(self.devices)
                if d.ws is None:
                    continue
                group = self.rng.random() < self.args.group_rate / total_rate
                if group and d.uuid in self.group_of:
                    to = self.group_of[d.uuid]
                else:
                    group = False
                    peer = self.rng.choice(self.devices)
                    while peer is d:
                        peer = self.rng.choice(self.devices)
                    to = peer.uuid
                serial += 1
                cid = f"soak-{d.index}-{serial}"
                now = time.time()
                sent = Sent(to, group, f"{now:.6f} {cid}", now)
                d.sent[cid] = sent
                self.stats.sent[int((now - self.stats.started) // self.stats.bucket)] += 1
                nursery.start_soon(self.typed_send, d, cid, sent)

    async def typed_send(self, d: Device, cid: str, sent: Sent) -> None:
        ws = d.ws
        if ws is not None and self.rng.random() < self.args.typing_share:
            self.stats.typing += 1
            with contextlib.suppress(trio_websocket.ConnectionClosed, trio.BrokenResourceError):
                await ws.send_message(codec.encode(Message(
                    type="typing", to=sent.to, content="start",
                    messageType=MessageType.GROUP if sent.group else MessageType.USER,
                )))
        await self.send_frame(d, cid, sent)

    async def dropper(self, until: float) -> None:
        count = max(1, math.ceil(len(self.devices) * self.args.drop_percent / 100))
        b = 1
        while True:
            at = self.stats.started + b * self.stats.bucket
            if at >= until - OFFLINE_SECONDS - 1:
                return
            await trio.sleep_until(trio.current_time() + max(0.0, at - time.time()))
            online = [d for d in self.devices if d.ws is not None and not d.catching_up]
            for d in self.rng.sample(online, min(count, len(online))):
                d.drop.set()
            self.stats.drops[b] += min(count, len(online))
            b += 1

    async def sample_rss(self, until: float) -> None:
        while time.time() < until:
            b = self.stats.now_bucket()
            with contextlib.suppress(OSError):
                self.stats.rss[b] = rss_kib(self.pid)
            await trio.sleep(min(5.0, self.stats.bucket / 4))

    def unsettled(self) -> bool:
        """An online device still waits for an ack, or is still catching up."""
        return any(not s.id for d in self.devices if d.ws is not None
                   for s in d.sent.values()) or any(d.catching_up for d in self.devices)

    async def run(self) -> float:
        started_setup = time.monotonic()
        await self.setup()
        print(f"setup: {len(self.devices)} users, {len(self.groups)} groups in "
              f"{time.monotonic() - started_setup:.1f} s", flush=True)
        opened = trio.Semaphore(64)
        ramp = time.monotonic()
        async with trio.open_nursery() as nursery:
            ready = [trio.Event() for _ in self.devices]
            for d, event in zip(self.devices, ready, strict=True):
                nursery.start_soon(self.device, d, opened, event)
            with trio.fail_after(300):
                for event in ready:
                    await event.wait()
            print(f"connected: {len(self.devices)} sockets in {time.monotonic() - ramp:.1f} s",
                  flush=True)
            self.stats.started = time.time()
            cpu_start = cpu_seconds(self.pid)
            until_wall = self.stats.started + self.args.duration
            until = trio.current_time() + self.args.duration
            async with trio.open_nursery() as load:
                load.start_soon(self.traffic, until)
                load.start_soon(self.dropper, until_wall)
                load.start_soon(self.sample_rss, until_wall)
            server_cpu = cpu_seconds(self.pid) - cpu_start
            # Settle: acks for what is still in flight, then catch-ups, then quiet.
            with trio.move_on_after(60):
                while self.unsettled():  # noqa: ASYNC110 - state that many tasks change
                    await trio.sleep(0.2)
            before = -1
            with trio.move_on_after(60):
                while (total := sum(sum(d.got.values()) for d in self.devices)) != before:
                    before = total
                    await trio.sleep(2)
            self.stopping = True
            self.stats.rss[self.stats.now_bucket()] = rss_kib(self.pid)
            nursery.cancel_scope.cancel()
        return server_cpu


DISCONNECTS = (trio_websocket.HandshakeError, trio_websocket.ConnectionClosed, OSError,
               trio.BrokenResourceError)


def disconnect(exc: BaseException) -> BaseException | None:
    """The first leaf when ``exc`` (or every leaf of its group) is a lost connection."""
    if isinstance(exc, BaseExceptionGroup):
        leaves = [disconnect(e) for e in exc.exceptions]
        return leaves[0] if leaves and all(leaves) else None
    return exc if isinstance(exc, DISCONNECTS) else None


def expected(soak: Soak) -> dict[str, list[tuple[int, int]]]:
    """uuid of each recipient -> (message id, bucket) it must have."""
    want: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for d in soak.devices:
        for sent in d.sent.values():
            if not sent.id:
                continue
            b = int((sent.sent_at - soak.stats.started) // soak.stats.bucket)
            targets = [u for u in soak.groups[sent.to] if u != d.uuid] if sent.group else [sent.to]
            for u in targets:
                want[u].append((sent.id, b))
    return want


def check_stored(db: Path, soak: Soak) -> tuple[bool, str]:
    acked = {(d.uuid, cid): s.id for d in soak.devices for cid, s in d.sent.items() if s.id}
    with contextlib.closing(sqlite3.connect(db)) as con:
        rows = con.execute(
            "SELECT m.id, u.uuid, m.client_id, m.content FROM messages m "
            "JOIN users u ON u.id = m.from_user_id WHERE m.client_id LIKE 'soak-%'"
        ).fetchall()
    by_key: defaultdict[tuple[str, str], list[int]] = defaultdict(list)
    contents = Counter(content for _, _, _, content in rows)
    for mid, user, cid, _ in rows:
        by_key[(user, cid)].append(mid)
    missing = sum(1 for key, mid in acked.items() if by_key.get(key) != [mid])
    doubled = sum(1 for n in contents.values() if n > 1)
    ok = missing == 0 and doubled == 0
    return ok, (f"{len(acked)} acked, {len(rows)} rows; acked without exactly one row of "
                f"that id: {missing}; contents stored twice: {doubled}")


def check_delivered(soak: Soak) -> tuple[bool, str]:
    want = expected(soak)
    missing = doubled = overlaps = extra = 0
    total = 0
    for d in soak.devices:
        need = {mid for mid, _ in want.get(d.uuid, [])}
        total += len(need)
        for mid in need:
            n = d.got.get(mid, 0)
            if n == 0:
                missing += 1
            elif n == 2 and mid in d.got_in_sync:
                overlaps += 1
            elif n > 1:
                doubled += 1
        extra += sum(1 for mid in d.got if mid not in need and mid not in soak_ids_unacked(soak))
    soak.stats.overlaps = overlaps
    ok = missing == 0 and doubled == 0
    return ok, (f"{total} (device, message) pairs; missing {missing}, twice outside "
                f"catch-up {doubled}, live+catch-up overlaps (deduplicated by id) {overlaps}, "
                f"deliveries of unacked messages {extra}")


_unacked_cache: dict[int, set[int]] = {}


def soak_ids_unacked(soak: Soak) -> set[int]:
    """Ids of messages received but never acked to their sender (sent at the very end
    before an ack arrived, or during a drop): stored, delivered, and legitimately extra."""
    key = id(soak)
    if key not in _unacked_cache:
        acked = {s.id for d in soak.devices for s in d.sent.values() if s.id}
        got = {mid for d in soak.devices for mid in d.got}
        _unacked_cache[key] = got - acked
    return _unacked_cache[key]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def report(soak: Soak, db: Path, args: argparse.Namespace, server_cpu: float,
           load_cpu: float) -> bool:
    s = soak.stats
    buckets = sorted(set(s.sent) | set(s.live))
    print(f"\n{'bucket':>6} {'sent':>7} {'acked':>7} {'live':>8} {'p50_ms':>8} "
          f"{'p99_ms':>8} {'drops':>5} {'rss_mib':>8}")
    for b in buckets:
        lat = s.latency.get(b, [])
        p50 = f"{percentile(lat, 0.5) * 1e3:.1f}" if lat else "-"
        p99 = f"{percentile(lat, 0.99) * 1e3:.1f}" if lat else "-"
        rss = f"{s.rss[b] / 1024:.1f}" if b in s.rss else "-"
        print(f"{b + 1:>6} {s.sent[b]:>7} {s.acked[b]:>7} {s.live[b]:>8} {p50:>8} {p99:>8} "
              f"{s.drops[b]:>5} {rss:>8}")
    all_lat = [x for v in s.latency.values() for x in v]
    if all_lat:
        print(f"all: p50 {percentile(all_lat, 0.5) * 1e3:.1f} ms, "
              f"p99 {percentile(all_lat, 0.99) * 1e3:.1f} ms over {len(all_lat)} live deliveries")
    print(f"frames: {sum(s.sent.values())} messages, {s.typing} typing, {s.reads} read; "
          f"reconnects {sum(d.connects - 1 for d in soak.devices)}")
    print(f"cpu: server {server_cpu:.1f} s over {args.duration:.0f} s "
          f"({server_cpu / args.duration * 100:.0f}% of one CPU); load generator "
          f"{load_cpu:.1f} s")
    for what, n in sorted(s.errors.items()):
        print(f"note: {n} x {what}")

    results = []
    ok, text = check_stored(db, soak)
    results.append(("stored once", ok, text))
    ok, text = check_delivered(soak)
    results.append(("delivered once", ok, text))
    base_b = 0 if len(s.rss) > 1 else min(s.rss)
    base, final = s.rss.get(base_b, 0), s.rss[max(s.rss)]
    growth = (final - base) / base * 100 if base else 0.0
    results.append(("rss growth", growth <= args.max_rss_growth,
                    f"{base / 1024:.1f} MiB after bucket 1, {final / 1024:.1f} MiB at the "
                    f"end: {growth:+.1f}% (limit {args.max_rss_growth:g}%)"))
    for name, ok, text in results:
        print(f"check {name}: {'ok' if ok else 'FAILED'} ({text})")
    passed = all(ok for _, ok, _ in results)
    print(f"soak: {'PASS' if passed else 'FAIL'}")
    return passed


def start_server(env: dict[str, str], port: int, root: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "chat_trio", "serve", "--port", str(port)]
    if (os.cpu_count() or 1) >= 2 and Path("/usr/bin/taskset").exists():
        command = ["taskset", "-c", "0", *command]
    with (root / "server.log").open("ab") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   cwd=root)
    deadline = time.monotonic() + 60
    with httpx.Client() as http:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if http.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    return process
            if process.poll() is not None:
                break
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"soak: the server did not become ready; see {root / 'server.log'}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--seconds", type=float, help="duration in seconds (overrides --minutes)")
    ap.add_argument("--connections", type=int, default=2000)
    ap.add_argument("--rate", type=float, default=40.0, help="one-to-one messages per second")
    ap.add_argument("--group-rate", type=float, default=4.0, help="group messages per second")
    ap.add_argument("--group-size", type=int, default=20)
    ap.add_argument("--typing-share", type=float, default=0.5,
                    help="share of messages preceded by a typing frame")
    ap.add_argument("--read-share", type=float, default=0.3,
                    help="share of one-to-one deliveries answered with a read frame")
    ap.add_argument("--drop-percent", type=float, default=1.0,
                    help="users dropping and catching up each bucket")
    ap.add_argument("--bucket-seconds", type=float, default=60.0)
    ap.add_argument("--max-rss-growth", type=float, default=5.0, help="percent")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true",
                    help="keep the data directory (the SQLite file, the server log)")
    args = ap.parse_args(argv)
    if args.connections < 2:
        ap.error("--connections: at least 2")
    args.duration = args.seconds if args.seconds is not None else args.minutes * 60
    if args.duration <= 0:
        ap.error("the duration must be positive")

    limit = raise_descriptor_limit(2 * args.connections + 500)
    root = Path(tempfile.mkdtemp(prefix="chat-trio-soak-"))
    db = root / "chat.db"
    env = {
        **os.environ, **SERVER_ENV,
        "CHAT_TRIO_SQLITE_PATH": str(db),
        "CHAT_TRIO_STATICPATH_FILEPATH": str(root / "files"),
        "CHAT_TRIO_SERVER_MAXCONNECTIONS": str(args.connections + 200),
        # Drops, reconnects and typing make more frames than a person would.
        "CHAT_TRIO_LIMITS_MESSAGESPERSECOND": "1000",
        "CHAT_TRIO_LIMITS_MESSAGEBURST": "1000",
    }
    port = free_port()
    print(f"soak: {args.connections} connections, {args.duration:.0f} s, "
          f"{args.rate:g} 1:1 + {args.group_rate:g} group msgs/s, groups of "
          f"{args.group_size}, {args.drop_percent:g}% dropping per "
          f"{args.bucket_seconds:g} s; descriptors {limit}; data {root}", flush=True)
    server = start_server(env, port, root)
    if (os.cpu_count() or 1) >= 2:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {1})
    try:
        soak = Soak(args, f"http://127.0.0.1:{port}", server.pid)
        load_before = time.process_time()
        server_cpu = trio.run(soak.run)
        load_cpu = time.process_time() - load_before
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    passed = report(soak, db, args, server_cpu, load_cpu)
    if args.keep:
        print(f"data kept in {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
