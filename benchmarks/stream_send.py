"""What a delivery costs: the direct socket write against a trio Stream behind a writer task.

The hub delivers a frame with a synchronous ``deliver()``; chat-trio's WebSocket writes it
straight to the socket (one non-blocking ``send()``) when nothing is queued. A transport
over ``trio.abc.Stream`` (which memory streams in tests and ``trio.SSLStream`` for TLS
would need) cannot be written synchronously: ``send_all`` must be awaited, so a delivery
becomes "queue the frame, wake the session's writer task, which awaits ``send_all``".
This measures both, fanning one 200-byte frame out to N connected socket pairs per round,
the peers drained between rounds, in one process::

    python benchmarks/stream_send.py [--sessions 1000] [--rounds 200]

It prints microseconds per delivery for each way and their ratio.
"""

from __future__ import annotations

import argparse
import socket
import time

import trio
import trio.testing

from chat_trio.transport import frames

FRAME = frames.frame(frames.OP_BINARY, b"x" * 200)


def drain(peers: list[socket.socket]) -> None:
    for peer in peers:
        try:
            while peer.recv(1 << 16):
                pass
        except BlockingIOError:
            pass


def pairs(n: int) -> tuple[list[socket.socket], list[socket.socket]]:
    ours, peers = [], []
    for _ in range(n):
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        ours.append(a)
        peers.append(b)
    return ours, peers


async def direct(n: int, rounds: int) -> float:
    ours, peers = pairs(n)
    spent = 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        for sock in ours:
            sock.send(FRAME)
        spent += time.perf_counter() - started
        await trio.lowlevel.checkpoint()
        drain(peers)
    for s in ours + peers:
        s.close()
    return spent / (n * rounds)


class Round:
    """Counts the deliveries of one round down; ``done`` is set at zero."""

    def __init__(self) -> None:
        self.left = 0
        self.done = trio.Event()

    def start(self, n: int) -> None:
        self.left = n
        self.done = trio.Event()

    def wrote(self, n: int) -> None:
        self.left -= n
        if self.left <= 0:
            self.done.set()


class StreamWriter:
    """A session's writer task over a trio Stream: deliver() queues and wakes it."""

    def __init__(self, stream: trio.SocketStream, round_: Round) -> None:
        self.stream = stream
        self.queue: list[bytes] = []
        self.wakeup = trio.Event()
        self.round = round_

    def deliver(self, frame: bytes) -> None:
        self.queue.append(frame)
        self.wakeup.set()

    async def run(self) -> None:
        while True:
            await self.wakeup.wait()
            self.wakeup = trio.Event()
            queued, self.queue = self.queue, []
            for frame in queued:
                await self.stream.send_all(frame)
            self.round.wrote(len(queued))


async def through_streams(n: int, rounds: int) -> float:
    ours, peers = pairs(n)
    round_ = Round()
    writers = [
        StreamWriter(trio.SocketStream(trio.socket.from_stdlib_socket(s)), round_) for s in ours
    ]
    spent = 0.0
    async with trio.open_nursery() as nursery:
        for writer in writers:
            nursery.start_soon(writer.run)
        await trio.testing.wait_all_tasks_blocked()
        for _ in range(rounds):
            started = time.perf_counter()
            round_.start(n)
            for writer in writers:
                writer.deliver(FRAME)
            await round_.done.wait()  # every writer task has written its frame
            spent += time.perf_counter() - started
            drain(peers)
        nursery.cancel_scope.cancel()
    for w in writers:
        await w.stream.aclose()
    for p in peers:
        p.close()
    return spent / (n * rounds)


async def main(n: int, rounds: int) -> None:
    a = await direct(n, rounds)
    b = await through_streams(n, rounds)
    a2 = await direct(n, rounds)
    best = min(a, a2)
    print(f"{n} sessions x {rounds} rounds, one 200-byte frame each")
    print(f"direct socket send:          {best * 1e6:6.2f} us per delivery")
    print(f"Stream + writer task:        {b * 1e6:6.2f} us per delivery")
    print(f"ratio (stream / direct):     {b / best:6.2f}x")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=200)
    args = ap.parse_args()
    trio.run(main, args.sessions, args.rounds)
