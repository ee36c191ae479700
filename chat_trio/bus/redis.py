"""The bus on Redis: per-node channels, a presence map, and a node that survives outages.

Keys and channels, all under ``redisPrefix`` (``P``)::

    P:nodes           SET   ids of the nodes that registered
    P:node:<id>       STR   "1" with a TTL of NODE_TTL s, refreshed every HEARTBEAT s
    P:users:<id>      SET   uuids of the users with a session on node <id> (same TTL)
    P:to:<id>         channel: frames for node <id> (only that node subscribes); a
                      call frame's recipient list starts with "~" (routed by the
                      receiving node's call state, chat_trio/calls.py), an optional
                      frame's with "!<feature>" (chat_trio/features.py)
    P:presence        channel: "+ <id> <uuid>..." / "- <id> <uuid>..." / "= <id>" / "x <id>",
                      and ended logins: "r <id> <token hash>" (a logout) /
                      "p <id> <user id> <kept token hash>" (a password change),
                      and changed blocks: "b <id> <uuid>..." (read their blocks again)

Every node keeps a mirror of the other live nodes' user sets (``user -> nodes``),
loaded when it connects, kept fresh by the presence channel, re-read every
RESYNC s, and pruned of a node whose liveness key expired. Publishing a frame
is then a lookup in memory and one PUBLISH per distinct other node that holds
a recipient, carrying only that node's recipients. A crashed node stops
refreshing its key; within NODE_TTL s the others drop its users.

Nothing here is awaited by the hub, the writer or the intake: ``publish`` and
``presence_changed`` only touch memory and wake the pump task.

Who is online on this node is the hub's registry, and only the hub's: the bus
keeps no copy. ``presence_changed`` queues the change for Redis; when the node
(re)registers, it asks the hub for the whole set through ``local_users`` (a
synchronous snapshot, taken between two awaits of the bus's own task, so the
hub never waits on it and the set cannot change while it is copied). When Redis is
unreachable the node keeps serving its own sessions, logs the outage once,
reports it through :meth:`RedisBus.health`, keeps up to BUFFER frames for
other nodes (the oldest are dropped first: the database has them), and
reconnects with backoff, re-registering its users when it does.

Revoked logins (:class:`~chat_trio.bus.base.Revocation`) go to every node on
the presence channel, ahead of frames; a node hands each one it receives to
``on_revocation`` (the accounts), which drops the login from its token cache and
closes the sessions opened with it. While Redis is unreachable they wait in
their own buffer (up to BUFFER) and are sent on reconnection; meanwhile the
other nodes trust a cached token for at most auth.TOKEN_CACHE_SECONDS.

Changed blocks travel the same way, ahead of the frames queued with them (so
a node has dropped its cached blocks before it delivers the friend event that
a block sent), and go to ``on_block_change`` (the directory's block cache).
Without Redis, the other nodes' caches go stale for at most their freshness
(chat_trio/blocks.py).
"""

from __future__ import annotations

import contextlib
import logging
import struct
import uuid
from collections import deque
from collections.abc import Callable, Collection, Iterable

import trio

from chat_trio.bus.base import BusStatistics, Revocation
from chat_trio.bus.resp import (
    Arg,
    RedisAddress,
    RedisConnection,
    RedisUnavailable,
    Reply,
)
from chat_trio.errors import ConfigError
from chat_trio.hub import Fanout, HubEvent, RemoteSignal

log = logging.getLogger(__name__)

#: Seconds between two refreshes of this node's liveness key.
HEARTBEAT = 2.0
#: Seconds after its last heartbeat that a node (and its users) count as gone.
NODE_TTL = 6
#: Seconds between two full re-reads of the presence map (a safety net).
RESYNC = 30.0
#: Frames for other nodes kept while Redis is unreachable.
BUFFER = 10_000
#: Frames published per pipelined round trip.
BATCH = 512
#: Seconds between reconnection attempts: doubled from the first to the last.
BACKOFF = (0.2, 5.0)

_HEADER = struct.Struct(">I")
#: The first "recipient" of a call frame on the bus (no uuid is spelled so).
SIGNAL_MARK = "~"
#: The first "recipient" of an optional frame starts so, followed by its feature.
NOTICE_MARK = "!"


def encode_frame(recipients: Iterable[str], payload: bytes) -> bytes:
    """A bus frame: 4-byte length, comma-separated recipient uuids, then the payload."""
    header = ",".join(recipients).encode()
    return _HEADER.pack(len(header)) + header + payload


def decode_frame(data: bytes) -> tuple[tuple[str, ...], bytes]:
    """The inverse of :func:`encode_frame`. Raises ValueError on a malformed frame."""
    if len(data) < _HEADER.size:
        raise ValueError("bus frame shorter than its header")
    (size,) = _HEADER.unpack_from(data)
    end = _HEADER.size + size
    if end > len(data):
        raise ValueError("bus frame header longer than the frame")
    recipients = tuple(data[_HEADER.size : end].decode().split(","))
    return recipients, data[end:]


def _text(reply: Reply) -> str:
    return reply.decode() if isinstance(reply, bytes) else ""


def _members(reply: Reply) -> set[str]:
    return {_text(r) for r in reply} if isinstance(reply, list) else set()


def _revocation_text(node: str, revocation: Revocation) -> str:
    """The presence-channel line for a revoked login (see the module docstring)."""
    if revocation.user_id:
        return f"p {node} {revocation.user_id} {revocation.keep_hash}"
    return f"r {node} {revocation.token_hash}"


def _parse_revocation(op: str, words: list[str]) -> Revocation | None:
    """The inverse of :func:`_revocation_text`, without the op and node words."""
    if op == "r" and len(words) == 1 and words[0]:
        return Revocation(token_hash=words[0])
    if op == "p" and len(words) == 2 and words[0].isdigit() and int(words[0]) > 0:
        return Revocation(user_id=int(words[0]), keep_hash=words[1])
    return None


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    inner = group.exceptions[0]
    return _first(inner) if isinstance(inner, BaseExceptionGroup) else inner


class RedisBus:
    """Live delivery and presence across nodes through one Redis server.

    Args:
        hub_inbox: where frames from other nodes go (the local hub's inbox).
        local_users: the users with a session on this node now (the hub's
            :meth:`~chat_trio.hub.Hub.online_users`); called on each registration.
    """

    def __init__(
        self,
        url: str,
        prefix: str,
        hub_inbox: trio.MemorySendChannel[HubEvent],
        *,
        local_users: Callable[[], Collection[str]],
        node_id: str | None = None,
        heartbeat: float = HEARTBEAT,
        node_ttl: int = NODE_TTL,
        buffer: int = BUFFER,
    ) -> None:
        try:
            self._address = RedisAddress.parse(url)
        except ValueError as exc:
            raise ConfigError(f"[msgChannelType] redisUrl: {exc}") from None
        self._hub_inbox = hub_inbox
        self._node_id = node_id or uuid.uuid4().hex[:12]
        self._heartbeat = heartbeat
        self._node_ttl = node_ttl
        p = prefix
        self._nodes_key = f"{p}:nodes"
        self._presence_channel = f"{p}:presence"
        self._prefix = p
        #: Users with at least one session on this node, asked of the hub.
        self._local_users = local_users
        #: Presence changes of local users not yet written to Redis (the whole set
        #: is written on registration, and these are dropped then).
        self._pending: dict[str, bool] = {}
        #: Frames waiting for the pump: (payload, recipients, mark): the mark is ""
        #: for a frame, SIGNAL_MARK for a call frame, NOTICE_MARK + feature.
        self._outbox: deque[tuple[bytes, tuple[str, ...], str]] = deque(maxlen=buffer)
        #: Revoked logins waiting for the pump.
        self._revocations: deque[Revocation] = deque(maxlen=buffer)
        #: Told the revocations other nodes publish.
        self.on_revocation: Callable[[Revocation], None] | None = None
        self._block_changes: deque[tuple[str, ...]] = deque(maxlen=buffer)
        #: Told the users whose blocks changed on another node.
        self.on_block_change: Callable[[tuple[str, ...]], None] | None = None
        #: The mirror: user -> the other live nodes holding a session of theirs.
        self._where: dict[str, set[str]] = {}
        #: The mirror by node: other live node -> its users.
        self._holds: dict[str, set[str]] = {}
        #: Nodes whose user sets the pump should re-read.
        self._reload: set[str] = set()
        self._wake_send, self._wake_receive = trio.open_memory_channel[None](1)
        self._connected = False
        self._was_up = False
        self._problem = "not connected yet"
        self._down_since: float | None = None
        self._grace_until = 0.0
        self._published = 0
        self._received = 0
        self._dropped = 0
        self._dropped_at_outage = 0

    # -- what the rest of the server calls (synchronous, never blocks) ---------

    @property
    def node_id(self) -> str:
        return self._node_id

    def publish(self, payload: bytes, recipients: Iterable[str]) -> None:
        self._queue(payload, recipients, "")

    def publish_signal(self, payload: bytes, recipients: Iterable[str]) -> None:
        self._queue(payload, recipients, SIGNAL_MARK)

    def publish_notice(self, payload: bytes, recipients: Iterable[str], feature: str) -> None:
        self._queue(payload, recipients, NOTICE_MARK + feature)

    def _queue(self, payload: bytes, recipients: Iterable[str], mark: str) -> None:
        where = self._where
        targets = tuple(r for r in recipients if r in where)
        if not targets:
            return
        if len(self._outbox) == self._outbox.maxlen:
            self._dropped += 1
        self._outbox.append((payload, targets, mark))
        self._wake()

    def publish_revocation(self, revocation: Revocation) -> None:
        self._revocations.append(revocation)
        self._wake()

    def publish_block_change(self, user_uuids: tuple[str, ...]) -> None:
        self._block_changes.append(user_uuids)
        self._wake()

    def presence_changed(self, user_uuid: str, online: bool) -> None:
        self._pending[user_uuid] = online
        self._wake()

    def nodes_elsewhere(self, user_uuid: str) -> int:
        return len(self._where.get(user_uuid, ()))

    def health(self) -> str:
        if self._connected:
            return "ok"
        return f"unreachable: {self._problem}"

    def statistics(self) -> BusStatistics:
        return BusStatistics(
            connected=self._connected,
            nodes=len(self._holds) + 1,
            published=self._published,
            received=self._received,
            dropped=self._dropped,
        )

    # -- the task ---------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Connect, serve, and reconnect after every failure, until cancelled.

        Reports started at once: a node whose Redis is down still serves its
        own sessions (and says so in /readyz) rather than refusing to start.
        """
        task_status.started()
        delay = BACKOFF[0]
        try:
            while True:
                problem: str | None = None
                try:
                    await self._session()
                except* RedisUnavailable as group:
                    problem = str(_first(group))
                except* Exception as group:
                    # A bug here must not take the node down: report it, start over.
                    log.error("bus: unexpected failure", exc_info=_first(group))
                    problem = f"internal error: {_first(group)!r}"
                if problem is not None:
                    if self._connected or self._down_since is None:
                        self._went_down(problem)
                    else:
                        self._problem = problem
                        log.debug("bus: Redis still unreachable: %s", problem)
                if self._was_up:
                    self._was_up = False
                    delay = BACKOFF[0]
                await trio.sleep(delay)
                delay = min(delay * 2, BACKOFF[1])
        finally:
            if self._connected:
                await self._leave()

    async def _session(self) -> None:
        """One connection's life: subscribe, register, load the map, then serve."""
        command = await RedisConnection.open(self._address)
        try:
            subscriber = await RedisConnection.open(self._address)
            try:
                await subscriber.send(
                    ("SUBSCRIBE", self._channel(self._node_id), self._presence_channel)
                )
                for _ in range(2):
                    await self._confirmation(subscriber)
                await self._register(command)
                self._grace_until = trio.current_time() + self._node_ttl
                self._reload.update(await self._beat(command))
                self._reload.update(self._holds)
                await self._load(command)
                self._came_up()
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._listen, subscriber)
                    nursery.start_soon(self._pump, command)
            finally:
                await subscriber.aclose()
        finally:
            await command.aclose()

    async def _confirmation(self, subscriber: RedisConnection) -> None:
        with trio.move_on_after(5):
            reply = await subscriber.receive()
            if isinstance(reply, list) and reply and reply[0] == b"subscribe":
                return
            raise RedisUnavailable(f"unexpected answer to SUBSCRIBE: {reply!r:.80}")
        raise RedisUnavailable("Redis did not confirm SUBSCRIBE within 5 s")

    def _channel(self, node: str) -> str:
        return f"{self._prefix}:to:{node}"

    def _node_key(self, node: str) -> str:
        return f"{self._prefix}:node:{node}"

    def _users_key(self, node: str) -> str:
        return f"{self._prefix}:users:{node}"

    # -- state changes, logged once each ------------------------------------------

    def _came_up(self) -> None:
        address = f"{self._address.host}:{self._address.port}"
        if self._down_since is not None and self._problem != "not connected yet":
            lost = self._dropped - self._dropped_at_outage
            log.warning(
                "bus: Redis at %s reachable again after %.1f s; %d frames for other nodes "
                "were dropped meanwhile (clients catch up from the database)",
                address, trio.current_time() - self._down_since, lost,
            )
        else:
            log.info(
                "bus: node %s connected to Redis at %s; %d other nodes",
                self._node_id, address, len(self._holds),
            )
        self._connected = True
        self._was_up = True
        self._down_since = None

    def _went_down(self, problem: str) -> None:
        self._connected = False
        self._problem = problem
        self._down_since = trio.current_time()
        self._dropped_at_outage = self._dropped
        log.warning(
            "bus: Redis unreachable (%s); serving this node's sessions only, "
            "reconnecting in the background", problem,
        )

    # -- Redis work -----------------------------------------------------------------

    async def _register(self, command: RedisConnection) -> None:
        """Write this node's liveness and its whole user set, and tell the others."""
        me = self._node_id
        users = sorted(self._local_users())
        self._pending.clear()
        ttl = self._node_ttl
        commands: list[tuple[Arg, ...]] = [
            ("SET", self._node_key(me), "1", "EX", ttl),
            ("SADD", self._nodes_key, me),
            ("DEL", self._users_key(me)),
        ]
        for start in range(0, len(users), 1000):
            commands.append(("SADD", self._users_key(me), *users[start : start + 1000]))
        commands.append(("EXPIRE", self._users_key(me), ttl))
        commands.append(("PUBLISH", self._presence_channel, f"= {me}"))
        await command.execute(*commands)

    async def _beat(self, command: RedisConnection) -> set[str]:
        """Refresh this node's keys; drop nodes that died. Returns nodes new to the mirror."""
        me = self._node_id
        ttl = self._node_ttl
        replies = await command.execute(
            ("SET", self._node_key(me), "1", "EX", ttl),
            ("EXPIRE", self._users_key(me), ttl),
            ("SADD", self._nodes_key, me),
            ("SMEMBERS", self._nodes_key),
        )
        others = sorted(_members(replies[3]) - {me})
        live: set[str] = set()
        if others:
            (alive,) = await command.execute(("MGET", *(self._node_key(n) for n in others)))
            if isinstance(alive, list):
                live = {n for n, value in zip(others, alive, strict=False) if value is not None}
            dead = set(others) - live
            if dead:
                await command.execute(("SREM", self._nodes_key, *sorted(dead)))
        if trio.current_time() < self._grace_until:
            # Just reconnected (perhaps to a restarted, empty Redis): the nodes we
            # knew get one TTL to register again before their users count as gone.
            live |= set(self._holds)
        for node in set(self._holds) - live:
            log.info("bus: node %s is gone; its users are offline", node)
            self._set_node(node, set())
            del self._holds[node]
        return live - set(self._holds)

    async def _load(self, command: RedisConnection) -> None:
        """Re-read the user sets of the nodes in ``_reload``."""
        nodes = sorted(self._reload - {self._node_id})
        self._reload.clear()
        if not nodes:
            return
        replies = await command.execute(*(("SMEMBERS", self._users_key(n)) for n in nodes))
        in_grace = trio.current_time() < self._grace_until
        for node, reply in zip(nodes, replies, strict=True):
            users = _members(reply)
            if in_grace and not users and node in self._holds:
                continue  # not registered again yet: keep what we knew (see _beat)
            self._set_node(node, users)

    def _set_node(self, node: str, users: set[str]) -> None:
        old = self._holds.get(node, set())
        for user in old - users:
            self._unmark(user, node)
        for user in users - old:
            self._where.setdefault(user, set()).add(node)
        self._holds[node] = users

    def _unmark(self, user: str, node: str) -> None:
        nodes = self._where.get(user)
        if nodes is not None:
            nodes.discard(node)
            if not nodes:
                del self._where[user]

    async def _pump(self, command: RedisConnection) -> None:
        """The only task that writes on ``command``: heartbeats, presence, frames."""
        next_beat = trio.current_time() + self._heartbeat
        next_resync = trio.current_time() + RESYNC
        while True:
            now = trio.current_time()
            if now >= next_beat:
                self._reload.update(await self._beat(command))
                next_beat = now + self._heartbeat
            if now >= next_resync:
                self._reload.update(self._holds)
                next_resync = now + RESYNC
            if self._reload:
                await self._load(command)
            await self._flush(command, until=next_beat)
            if self._pending or self._outbox or self._revocations or self._block_changes:
                continue  # a heartbeat is due before the rest: liveness comes first
            with trio.move_on_at(next_beat):
                await self._wake_receive.receive()

    async def _flush(self, command: RedisConnection, *, until: float) -> None:
        """Write pending presence changes, then the queued frames, in batches,
        until nothing is left or the clock reaches ``until``."""
        me = self._node_id
        while (
            self._pending or self._outbox or self._revocations or self._block_changes
        ) and trio.current_time() < until:
            commands: list[tuple[Arg, ...]] = []
            revoked = list(self._revocations)
            self._revocations.clear()
            for revocation in revoked:
                line = _revocation_text(me, revocation)
                commands.append(("PUBLISH", self._presence_channel, line))
            changed = list(self._block_changes)
            self._block_changes.clear()
            for pair in changed:
                commands.append(("PUBLISH", self._presence_channel, " ".join(["b", me, *pair])))
            if self._pending:
                pending, self._pending = self._pending, {}
                online = sorted(u for u, on in pending.items() if on)
                offline = sorted(u for u, on in pending.items() if not on)
                users_key = self._users_key(me)
                channel = self._presence_channel
                if offline:
                    commands.append(("SREM", users_key, *offline))
                    commands.append(("PUBLISH", channel, " ".join(["-", me, *offline])))
                if online:
                    commands.append(("SADD", users_key, *online))
                    commands.append(("EXPIRE", users_key, self._node_ttl))
                    commands.append(("PUBLISH", channel, " ".join(["+", me, *online])))
            batch = [self._outbox.popleft() for _ in range(min(BATCH, len(self._outbox)))]
            where = self._where
            for payload, recipients, mark in batch:
                by_node: dict[str, list[str]] = {}
                for user in recipients:
                    for node in where.get(user, ()):
                        by_node.setdefault(node, [mark] if mark else []).append(user)
                for node, users in by_node.items():
                    commands.append(("PUBLISH", self._channel(node), encode_frame(users, payload)))
            try:
                await command.execute(*commands)
            except RedisUnavailable:
                self._outbox.extendleft(reversed(batch))
                self._revocations.extendleft(reversed(revoked))
                self._block_changes.extendleft(reversed(changed))
                raise
            self._published += len(batch)

    async def _listen(self, subscriber: RedisConnection) -> None:
        """Turn what other nodes publish into local deliveries and presence updates."""
        presence = self._presence_channel.encode()
        while True:
            push = await subscriber.receive()
            if not (isinstance(push, list) and len(push) == 3 and push[0] == b"message"):
                continue
            channel, data = push[1], push[2]
            if not isinstance(data, bytes):
                continue
            if channel == presence:
                self._on_presence(data)
                continue
            try:
                recipients, payload = decode_frame(data)
            except ValueError as exc:
                log.warning("bus: dropped a malformed frame: %s", exc)
                continue
            self._received += 1
            if recipients and recipients[0] == SIGNAL_MARK:
                await self._hub_inbox.send(RemoteSignal(payload, recipients[1:]))
            elif recipients and recipients[0].startswith(NOTICE_MARK):
                feature = recipients[0][len(NOTICE_MARK):]
                await self._hub_inbox.send(Fanout(payload, recipients[1:], feature=feature))
            else:
                await self._hub_inbox.send(Fanout(payload, recipients))

    def _on_presence(self, data: bytes) -> None:
        words = data.decode(errors="replace").split(" ")
        if len(words) < 2 or words[1] == self._node_id:
            return
        op, node, users = words[0], words[1], words[2:]
        if op == "+":
            self._holds.setdefault(node, set()).update(users)
            for user in users:
                self._where.setdefault(user, set()).add(node)
        elif op == "-":
            held = self._holds.get(node)
            for user in users:
                if held is not None:
                    held.discard(user)
                self._unmark(user, node)
        elif op == "=":
            self._reload.add(node)
            self._wake()
        elif op == "x" and node in self._holds:
            self._set_node(node, set())
            del self._holds[node]
        elif op == "b":
            if self.on_block_change is not None and users:
                self.on_block_change(tuple(users))
        elif op in ("r", "p"):
            revocation = _parse_revocation(op, users)
            if revocation is None:
                log.warning("bus: dropped a malformed revocation: %.80r", data)
            elif self.on_revocation is not None:
                self.on_revocation(revocation)

    async def _leave(self) -> None:
        """On shutdown: take this node and its users out of Redis at once (best effort)."""
        me = self._node_id
        with trio.move_on_after(1) as scope:
            scope.shield = True
            try:
                command = await RedisConnection.open(self._address)
                try:
                    await command.execute(
                        ("SREM", self._nodes_key, me),
                        ("DEL", self._node_key(me), self._users_key(me)),
                        ("PUBLISH", self._presence_channel, f"x {me}"),
                    )
                finally:
                    await command.aclose()
            except RedisUnavailable:
                pass
        self._connected = False

    def _wake(self) -> None:
        with contextlib.suppress(trio.WouldBlock):
            self._wake_send.send_nowait(None)
