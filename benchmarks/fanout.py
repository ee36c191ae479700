"""One hub Fanout to many members: the time the hub spends handing the frame out.

    python benchmarks/fanout.py [--members 1000] [--rounds 30] [--sizes 100,4096,65536]

The hub's loop in one process: ``members`` sessions, each over a real
``socket.socketpair`` behind a :class:`~chat_trio.transport.WebSocket` (as the
server builds them), and one :class:`~chat_trio.hub.Fanout` naming them all, as
a message to a group of that many members would be. The clock runs over
``hub.handle`` only: for every member, ``Session.deliver`` -> ``send_nowait`` ->
framing -> one non-blocking ``send()``. Between rounds the client ends are
read empty, outside the clock, so every send finds room in the kernel (no
backlog). Prints, per payload size, the median and best time of one fan-out
and per delivery. ``--unshared`` gives every WebSocket a FrameCache of its own,
so each delivery frames (copies) the payload again: what sharing one saves.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager

import trio

from chat_trio.hub import Fanout, Hub, Register
from chat_trio.model import User
from chat_trio.session import Session
from chat_trio.transport import frames
from chat_trio.transport.websocket import WebSocket


async def _refuse(session: Session, message: object) -> None:
    raise AssertionError("the benchmark reads nothing")


@contextmanager
def sessions(
    hub: Hub, members: int, *, shared: bool
) -> Iterator[tuple[tuple[str, ...], list[socket.socket]]]:
    shared_cache = frames.FrameCache()
    pairs = [socket.socketpair() for _ in range(members)]
    try:
        uuids = []
        for i, (server, client) in enumerate(pairs):
            client.setblocking(False)
            ws = WebSocket(
                server, max_message_bytes=1 << 20, max_backlog_frames=1000,
                max_backlog_bytes=1 << 30,
                frame_cache=shared_cache if shared else frames.FrameCache(),
            )
            user = User(i + 1, f"member-{i}", f"member{i}", "", "", "")
            hub.handle(Register(Session(user, ws, hub_inbox=hub.inbox, handle_frame=_refuse)))
            uuids.append(user.uuid)
        yield tuple(uuids), [client for _, client in pairs]
    finally:
        for server, client in pairs:
            server.close()
            client.close()


def drain(clients: list[socket.socket]) -> None:
    for client in clients:
        try:
            while client.recv(1 << 20):
                pass
        except BlockingIOError:
            pass


async def main(members: int, rounds: int, sizes: list[int], shared: bool) -> None:
    hub = Hub()
    cache = "one FrameCache for all" if shared else "a FrameCache each"
    print(f"{members} members, one socketpair-backed WebSocket each ({cache}); {rounds} rounds")
    print(
        f"{'payload':>9} {'fan-outs':>8} {'median/fan-out':>15} {'best':>10}"
        f" {'per delivery':>13}"
    )
    with sessions(hub, members, shared=shared) as (uuids, clients):
        drain(clients)  # the welcome frames
        for size in sizes:
            # A few fan-outs per round, as many as the kernel buffers surely take.
            per_round = max(1, min(20, 100_000 // (size + 14)))
            times = []
            for _ in range(rounds):
                events = [Fanout(b"x" * size, uuids) for _ in range(per_round)]
                started = time.perf_counter()
                for event in events:
                    hub.handle(event)
                times.append((time.perf_counter() - started) / per_round)
                drain(clients)
            assert hub.statistics().refused == 0, "a send found no room: lower per_round"
            median = statistics.median(times)
            print(
                f"{size:>8}B {per_round:>8} {median * 1e3:>12.3f} ms {min(times) * 1e3:>7.3f} ms"
                f" {median / members * 1e9:>10.0f} ns"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--sizes", default="100,4096,65536")
    parser.add_argument("--unshared", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    trio.run(main, args.members, args.rounds, sizes, not args.unshared)
