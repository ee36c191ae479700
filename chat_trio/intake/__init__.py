"""What happens to a frame a client sent: charge, authorize, then persist or relay.

:meth:`Intake.handle` is the path of one frame, top to bottom:

1. Charge it to the session's flood budget, before any work is done on it
   (:mod:`~chat_trio.intake.flood`; a large frame costs more).
2. Stamp the sender: ``from``, ``fromUsername`` and ``avatar`` are overwritten
   with the authenticated user's current profile (read from the directory, so a
   change made while the session is open shows), whatever the frame said.
3. By frame type:

   - a chat message (content types 1-5): its addressee and recipients
     (:mod:`~chat_trio.intake.authorize`), then its content, files stored first
     (:mod:`~chat_trio.intake.content`), then the store writer, which stores,
     acks and delivers it (:class:`PersistRequest`);
   - ``sync``: one page of catch-up (:mod:`~chat_trio.intake.catchup`);
   - ``typing``: authorized like a chat message, rate-limited, relayed, never
     stored (:mod:`~chat_trio.intake.typing`);
   - ``read``: the sender's read position in a conversation
     (:class:`~chat_trio.readstate.ReadState`: checked, stored, pushed);
   - ``ack``, ``error``, ``friend`` and ``mute``: refused, the server sends those (a
     mute is set over HTTP);
   - everything else (calls, signaling, video and screen frames): capped by
     kind, addressed to one user (or readdressed to the peer of the sending
     device's call), and handed to the hub's call table, never stored
     (:mod:`~chat_trio.intake.relay`, :mod:`chat_trio.calls`).

4. Count it (``messages_received`` by kind, or ``messages_refused`` by code).

A refused frame raises :class:`~chat_trio.errors.ProtocolError`, which the
session answers with an error frame; a lookup the database could not answer is
refused with 503 and the session goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import trio
from prometheus_client import Counter

from chat_trio import codec
from chat_trio.bus import Bus, MemoryBus
from chat_trio.config import LimitsConfig
from chat_trio.directory import Directory
from chat_trio.errors import ProtocolError, StorageError
from chat_trio.files import FileStore
from chat_trio.hub import Flush, HubEvent
from chat_trio.intake import authorize, relay
from chat_trio.intake.catchup import CatchUp
from chat_trio.intake.content import stored_content
from chat_trio.intake.flood import FloodGuard
from chat_trio.intake.typing import TYPING, TypingRelay
from chat_trio.metrics import Metrics
from chat_trio.model import (
    STORED_CONTENT_TYPES,
    ContentType,
    FrameType,
    MessageType,
    NewMessage,
    User,
)
from chat_trio.readstate import ReadState
from chat_trio.session import Session
from chat_trio.storage import Store

__all__ = ["Intake", "PersistRequest"]

#: The ``messages_received`` label of each stored content type.
_KIND: dict[int, str] = {
    ContentType.TEXT: "text",
    ContentType.FILE: "file",
    ContentType.IMAGE: "image",
    ContentType.AUDIO: "audio",
    ContentType.VIDEO: "video",
}


@dataclass(frozen=True, slots=True)
class PersistRequest:
    """A chat message for the store writer, with who asked and who receives it."""

    message: NewMessage
    origin: Session
    #: Every user whose sessions get the stored message, the sender included (its
    #: other sessions see what it sent; ``origin`` itself is skipped).
    recipients: tuple[str, ...]
    #: trio.current_time() when the frame arrived, for the delivery latency metric.
    received_at: float = 0.0


class Intake:
    def __init__(
        self,
        *,
        store: Store,
        directory: Directory,
        files: FileStore,
        limits: LimitsConfig,
        hub_inbox: trio.MemorySendChannel[HubEvent],
        persist: trio.MemorySendChannel[PersistRequest | Flush],
        metrics: Metrics | None = None,
        bus: Bus | None = None,
        is_online: Callable[[str], bool] = lambda _uuid: True,
        call_peer: Callable[[Session, str, int], str | None] = lambda _s, _to, _ct: None,
        reads: ReadState | None = None,
    ) -> None:
        self._flood = FloodGuard(limits)
        self._directory = directory
        self._files = files
        self._limits = limits
        self._persist = persist
        self._catch_up = CatchUp(store, hub_inbox, limits)
        self._relay = relay.Relay(hub_inbox)
        self._bus = bus or MemoryBus()
        self._typing = TypingRelay(directory, hub_inbox, self._bus)
        #: Whether a user has a live session on any node (refuses calls to nobody).
        self._is_online = is_online
        #: Where a call frame from a session goes instead of its ``to`` (the hub's
        #: call table: the peer of the call the session rings for or is in).
        self._call_peer = call_peer
        self._metrics = metrics or Metrics()
        self._reads = reads or ReadState(store, directory, hub_inbox, bus or MemoryBus())
        #: ``messages_received`` by label, looked up once each: ``labels()`` per frame
        #: was 4 % of the 1:1 benchmark's samples.
        self._received: dict[str, Counter] = {}

    async def handle(self, session: Session, message: codec.Message) -> None:
        """Take one decoded frame from ``session``. Raises ProtocolError to refuse it."""
        try:
            kind = await self._take(session, message)
        except StorageError:
            # A lookup the caches could not answer, while the database is away: the
            # frame is refused like any other, and the session goes on.
            self._metrics.messages_refused.labels("503").inc()
            raise ProtocolError(
                503, "the database is not available; try again", key="unavailable"
            ) from None
        except ProtocolError as refused:
            self._metrics.messages_refused.labels(str(refused.code)).inc()
            raise
        counter = self._received.get(kind)
        if counter is None:
            counter = self._received[kind] = self._metrics.messages_received.labels(kind)
        counter.inc()

    async def _take(self, session: Session, message: codec.Message) -> str:
        """The path of one frame; returns the ``messages_received`` label it counts as."""
        size = message.ByteSize()
        self._flood.charge(session, size)
        # The current profile (a dict hit): it may have changed since the session opened.
        sender = await self._directory.user(session.user_uuid)
        if sender is None:
            raise ProtocolError(404, "your account does not exist")
        message.avatar = sender.avatar
        message.fromUsername = sender.username
        setattr(message, "from", sender.uuid)  # `from` is a Python keyword
        if message.type == FrameType.CHAT and message.contentType in STORED_CONTENT_TYPES:
            # Counted as what is stored: the type the bytes of a file turned out to be.
            return _KIND.get(await self._chat(session, message, sender), "chat")
        if message.type == FrameType.SYNC:
            await self._catch_up.send_page(session, sender, message.id)
            return "sync"
        if message.type == TYPING:
            await self._typing.handle(session, sender, message)
            return "typing"
        if message.type == FrameType.READ:
            await self._reads.mark_read(
                sender, message.messageType, message.to, message.id, origin=session
            )
            return "read"
        if message.type in (FrameType.ACK, FrameType.ERROR, FrameType.FRIEND, FrameType.MUTE):
            raise ProtocolError(400, f"type {message.type!r} is sent by the server only")
        relay.check_size(message, size, self._limits)
        peer = self._call_peer(session, message.to, message.contentType)
        to = await authorize.relay_target(self._directory, message, self._is_online, peer)
        await self._relay.send(message, to, session)
        return "signaling" if message.type == FrameType.WEBRTC else "call"

    async def _chat(self, session: Session, message: codec.Message, sender: User) -> int:
        """Hand a chat message to the store writer; its stored content type."""
        if len(message.clientId) > 64:
            raise ProtocolError(400, "clientId is longer than 64 characters")
        addressee = await authorize.chat_addressee(self._directory, sender, message)
        content = await stored_content(
            message, self._files, owner=sender, max_text_chars=self._limits.max_text_chars
        )
        new = NewMessage(
            sender=sender,
            to_uuid=message.to,
            to_id=addressee.to_id,
            message_type=MessageType(message.messageType),
            content_type=content.content_type,
            content=content.content,
            url=content.url,
            client_id=message.clientId,
            created_at_ms=time.time_ns() // 1_000_000,
        )
        request = PersistRequest(new, session, addressee.recipients, trio.current_time())
        try:
            # No wait and no schedule point while the writer's queue has room; the
            # reader checkpoints on its next read from the socket.
            self._persist.send_nowait(request)
        except trio.WouldBlock:
            await self._persist.send(request)
        return content.content_type
