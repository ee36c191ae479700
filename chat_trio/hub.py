"""The hub: who is connected, and handing them bytes.

One task owns the registry ``{user uuid -> that user's live sessions}`` and loops
over ONE inbox of events, as go-chat's hub selected over its Register,
Unregister and Broadcast channels. It never awaits a client and never touches
the database: it reaches a session only through ``Peer.deliver(payload)``, which
is synchronous and never blocks. A session that cannot take more bytes closes
itself; the hub moves on. So one slow or dead client can never hold up
delivery to everyone else.

Call frames take a detour through the hub's :class:`~chat_trio.calls.CallTable`
(``Signal`` from a local session, ``RemoteSignal`` from another node): it knows
which local device rings for or is in which call, and delivers accordingly.

Payloads arrive already encoded (encoded once per distinct rewrite by whoever
produced the event), so a fan-out to a thousand members is a thousand
``deliver`` calls on the same bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import trio

from chat_trio import codec
from chat_trio.calls import CallTable, Signal

log = logging.getLogger(__name__)


class Peer(Protocol):
    """What the hub sees of a session."""

    @property
    def user_uuid(self) -> str: ...

    @property
    def features(self) -> frozenset[str]:
        """The optional frames the session asked for (chat_trio/features.py)."""
        ...

    def deliver(self, payload: bytes) -> bool:
        """Queue bytes for the client without blocking; False if the session is gone
        or was just closed as a slow consumer."""
        ...


@dataclass(frozen=True, slots=True)
class Register:
    peer: Peer


@dataclass(frozen=True, slots=True)
class Unregister:
    peer: Peer


@dataclass(frozen=True, slots=True)
class Fanout:
    """Deliver ``payload`` to every live session of each recipient, except ``skip``
    (and, for an optional ``feature``, except sessions that did not ask for it)."""

    payload: bytes
    recipients: tuple[str, ...]
    skip: Peer | None = None
    feature: str = ""


@dataclass(frozen=True, slots=True)
class Reply:
    """Deliver ``payload`` to one session only (acks, errors)."""

    peer: Peer
    payload: bytes


@dataclass(frozen=True, slots=True)
class Flush:
    """A marker: ``done`` is set once every event sent before it has been handled.

    The store writer forwards it after storing everything queued ahead of it, so
    a graceful shutdown can wait until all received messages are stored, acked
    and handed to their sessions."""

    done: trio.Event


@dataclass(frozen=True, slots=True)
class RemoteSignal:
    """A call frame another node published for ``recipients``' sessions here."""

    payload: bytes
    recipients: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Batch:
    """Several events at once, applied in order (the store writer's per-batch output)."""

    events: tuple[Register | Unregister | Fanout | Reply | Flush, ...]


HubEvent = Register | Unregister | Fanout | Reply | Flush | Batch | Signal | RemoteSignal


@dataclass(frozen=True, slots=True)
class HubStatistics:
    users_online: int
    sessions: int
    deliveries: int
    refused: int


class Hub:
    """Routes encoded frames to live sessions. Start it with ``nursery.start(hub.run)``."""

    def __init__(self, inbox_size: int = 4096) -> None:
        send, receive = trio.open_memory_channel[HubEvent](inbox_size)
        #: Where producers (sessions, the store writer) send events. Shared on
        #: purpose: it lives as long as the hub, and producers never close it.
        self.inbox: trio.MemorySendChannel[HubEvent] = send
        self._receive = receive
        self._sessions: dict[str, list[Peer]] = {}
        self._deliveries = 0
        self._refused = 0
        #: Told ``(user uuid, True)`` when a user's first session here registers and
        #: ``(user uuid, False)`` when its last one leaves; must not block (the bus).
        self.on_presence: Callable[[str, bool], None] | None = None
        #: Who rings for and is in which call, among this node's sessions.
        self.calls = CallTable(self._sessions_of, self._deliver)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        async for event in self._receive:
            self.handle(event)

    def handle(self, event: HubEvent) -> None:
        """Apply one event. Synchronous: nothing here can wait on anyone."""
        match event:
            case Fanout(payload, recipients, skip, ""):
                self._fanout(payload, recipients, skip)
            case Fanout(payload, recipients, _, feature):
                self._fanout_feature(payload, recipients, feature)
            case Reply(peer, payload):
                self._deliver(peer, payload)
            case Flush(done):
                done.set()
            case Signal():
                self.calls.from_local(event)
            case RemoteSignal(payload, recipients):
                signal = Signal.decode(payload)
                if signal is not None:
                    self.calls.from_remote(signal, recipients)
            case Batch(events):
                for inner in events:
                    self.handle(inner)
            case Register(peer):
                held = self._sessions.setdefault(peer.user_uuid, [])
                held.append(peer)
                if len(held) == 1 and self.on_presence is not None:
                    self.on_presence(peer.user_uuid, True)
                self._deliver(peer, codec.welcome_frame(peer.user_uuid))
            case Unregister(peer):
                peers = self._sessions.get(peer.user_uuid)
                if peers is not None and peer in peers:
                    self.calls.session_left(peer)
                    peers.remove(peer)
                    if not peers:
                        del self._sessions[peer.user_uuid]
                        if self.on_presence is not None:
                            self.on_presence(peer.user_uuid, False)

    def _fanout(self, payload: bytes, recipients: Iterable[str], skip: Peer | None) -> None:
        sessions = self._sessions
        for uuid in recipients:
            peers = sessions.get(uuid)
            if peers is None:
                continue
            for peer in tuple(peers):
                if peer is not skip:
                    self._deliver(peer, payload)

    def _fanout_feature(self, payload: bytes, recipients: Iterable[str], feature: str) -> None:
        sessions = self._sessions
        for uuid in recipients:
            for peer in tuple(sessions.get(uuid, ())):
                if feature in peer.features:
                    self._deliver(peer, payload)

    def _deliver(self, peer: Peer, payload: bytes) -> None:
        if peer.deliver(payload):
            self._deliveries += 1
        else:
            self._refused += 1

    def _sessions_of(self, user_uuid: str) -> tuple[Peer, ...]:
        return tuple(self._sessions.get(user_uuid, ()))

    def online_users(self) -> tuple[str, ...]:
        """The users with a live session here: a snapshot (the registry itself is
        the hub's alone; the bus asks for it when it registers this node)."""
        return tuple(self._sessions)

    def is_online(self, user_uuid: str) -> bool:
        return user_uuid in self._sessions

    def statistics(self) -> HubStatistics:
        return HubStatistics(
            users_online=len(self._sessions),
            sessions=sum(len(p) for p in self._sessions.values()),
            deliveries=self._deliveries,
            refused=self._refused,
        )
