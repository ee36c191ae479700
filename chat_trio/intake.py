"""What happens to a frame a client sent: validate, authorize, then persist or relay.

The sender is whoever the session authenticated: ``from``, ``fromUsername`` and
``avatar`` are overwritten with that user's current profile (from the directory,
so a change made while the session is open shows), whatever the frame said. Chat
messages (content types 1-5) must name an existing user, or a group the sender
belongs to; their files are stored first, then the message goes to the store
writer, which stores, acks and delivers it. Everything else (calls, signaling,
video and screen frames) is relayed to the one user it names and never stored,
and capped by kind (``[limits] maxSignalingBytes``, ``maxMediaFrameBytes``).

Every frame is charged to the session's flood budget before any work is done on
it, and a large frame costs more: one token plus one per :data:`BYTES_PER_TOKEN`
of its size (at most the whole burst, so that any frame the limits allow can
pass). With the defaults (20 tokens a second, bursts of 60) a session may send
about 5 MiB a second, and a 10 MiB file inside a frame costs 41 tokens. A large
data URL is decoded in a worker thread, so the event loop goes on meanwhile.
"""

from __future__ import annotations

import binascii
import re
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

import trio

from chat_trio import codec
from chat_trio.bus import Bus, MemoryBus
from chat_trio.config import LimitsConfig
from chat_trio.directory import Directory
from chat_trio.errors import ProtocolError, StorageError
from chat_trio.files import FileStore
from chat_trio.hub import Fanout, Flush, HubEvent, Reply
from chat_trio.metrics import Metrics
from chat_trio.model import (
    STORED_CONTENT_TYPES,
    ContentType,
    FrameType,
    MessageType,
    NewMessage,
    User,
)
from chat_trio.ratelimit import TokenBucket
from chat_trio.session import CLOSE_POLICY, Session
from chat_trio.storage import Store

_KIND: dict[int, str] = {
    ContentType.TEXT: "text",
    ContentType.FILE: "file",
    ContentType.IMAGE: "image",
    ContentType.AUDIO: "audio",
    ContentType.VIDEO: "video",
}
_DIALS = frozenset({ContentType.AUDIO_DIAL, ContentType.VIDEO_DIAL})
#: Relayed content types that carry media (JPEG data URLs, recorded chunks): these
#: get ``maxMediaFrameBytes``; every other relayed frame is signaling or call control.
_MEDIA = frozenset({
    ContentType.AUDIO_ONLINE, ContentType.VIDEO_ONLINE,
    ContentType.VIDEO_FRAME, ContentType.SCREEN_FRAME,
})
_DATA_URL = re.compile(r"^data:[^,]{0,200};base64,", re.ASCII)

#: A frame costs one token of the flood budget plus one per this many bytes.
BYTES_PER_TOKEN = 256 * 1024
#: Base64 longer than this (characters) is decoded in a worker thread: 10 MiB take
#: about 35 ms, which the event loop would otherwise spend on nothing else.
DECODE_IN_THREAD_CHARS = 256 * 1024
#: Characters decoded per step (a multiple of 4): between steps the worker thread
#: lets the event loop's thread take the GIL back.
DECODE_STEP_CHARS = 256 * 1024


def decode_base64(text: str, start: int = 0, *, step: int = DECODE_STEP_CHARS) -> bytes:
    """Strict base64 of ``text[start:]``, as ``base64.b64decode(..., validate=True)``,
    in steps of ``step`` characters.

    Raises:
        ProtocolError: 400, the text is not valid base64.
    """
    end = len(text)
    parts = []
    try:
        for i in range(start, end, step):
            piece = text[i : i + step]
            if i + step < end and piece.endswith("="):
                raise binascii.Error("padding before the end")
            parts.append(binascii.a2b_base64(piece, strict_mode=True))
    except (binascii.Error, ValueError):
        raise ProtocolError(400, "content is not valid base64") from None
    return b"".join(parts)


async def decode_data_url(content: str, max_bytes: int) -> bytes:
    """The bytes of a ``data:...;base64,`` URL; a long one decoded in a worker thread.

    Raises:
        ProtocolError: 413 when the bytes would be over ``max_bytes`` (told from the
            length alone, before decoding), 400 when it is not valid base64.
    """
    start = content.find(",") + 1  # 0 without a comma: then it is not base64 either
    encoded = len(content) - start
    if encoded > max_bytes * 4 // 3 + 4:
        raise ProtocolError(413, f"file too large: limit is {max_bytes} bytes")
    if encoded <= DECODE_IN_THREAD_CHARS:
        return decode_base64(content, start)
    return await trio.to_thread.run_sync(decode_base64, content, start)


@dataclass
class FloodGuard:
    """A session's message budget, and how many frames in a row it had refused."""

    bucket: TokenBucket
    refused_in_row: int = field(default=0)


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
    ) -> None:
        self._directory = directory
        self._store = store
        # A catch-up page fits in a session's outbox with room for live traffic:
        # half of it, in frames and in bytes.
        self._sync_page = max(1, min(500, limits.outbox_frames // 2))
        self._sync_page_bytes = limits.outbox_bytes // 2
        #: Whether a user has a live session on any node (refuses calls to nobody).
        self._is_online = is_online
        #: Carries relayed frames to the other nodes (a no-op on one node).
        self._bus: Bus = bus or MemoryBus()
        self._files = files
        self._limits = limits
        self._hub_inbox = hub_inbox
        self._persist = persist
        self._metrics = metrics or Metrics()
        self._guards: weakref.WeakKeyDictionary[Session, FloodGuard] = (
            weakref.WeakKeyDictionary()
        )

    async def handle(self, session: Session, message: codec.Message) -> None:
        """Take one decoded frame from ``session``. Raises ProtocolError to refuse it."""
        try:
            await self._handle(session, message)
        except StorageError:
            # A lookup the caches could not answer, while the database is away: the
            # frame is refused like any other, and the session goes on.
            self._metrics.messages_refused.labels("503").inc()
            raise ProtocolError(503, "the database is not available; try again") from None
        except ProtocolError as refused:
            self._metrics.messages_refused.labels(str(refused.code)).inc()
            raise

    async def _handle(self, session: Session, message: codec.Message) -> None:
        size = message.ByteSize()
        self._spend(session, 1 + size // BYTES_PER_TOKEN)
        # The current profile (a dict hit): it may have changed since the session opened.
        sender = await self._directory.user(session.user_uuid)
        if sender is None:
            raise ProtocolError(404, "your account does not exist")
        message.avatar = sender.avatar
        message.fromUsername = sender.username
        setattr(message, "from", sender.uuid)  # `from` is a Python keyword
        if message.type == FrameType.CHAT and message.contentType in STORED_CONTENT_TYPES:
            # Counted as what is stored: the type the bytes of a file turned out to be.
            kind = _KIND.get(await self._chat(session, message, sender), "chat")
        elif message.type == FrameType.SYNC:
            await self._sync(session, sender, message.id)
            kind = "sync"
        elif message.type in (FrameType.ACK, FrameType.ERROR):
            raise ProtocolError(400, f"type {message.type!r} is sent by the server only")
        else:
            await self._relay(message, size)
            kind = "signaling" if message.type == FrameType.WEBRTC else "call"
        self._metrics.messages_received.labels(kind).inc()

    def _spend(self, session: Session, cost: int) -> None:
        """``cost`` tokens of the session's budget (the whole burst at most), or a 429
        (and 1008 for a flood)."""
        now = trio.current_time()
        limits = self._limits
        guard = self._guards.get(session)
        if guard is None:
            guard = FloodGuard(
                TokenBucket.full(limits.messages_per_second, limits.message_burst, now)
            )
            self._guards[session] = guard
        cost = min(cost, limits.message_burst)
        if guard.bucket.take(now, cost):
            guard.refused_in_row = 0
            return
        guard.refused_in_row += 1
        if guard.refused_in_row >= self._limits.flood_close_after:
            session.close(CLOSE_POLICY, "message flood")
        raise ProtocolError(
            429, "too many messages: slow down", retry_after=guard.bucket.retry_after(now, cost)
        )

    async def _sync(self, session: Session, sender: User, after: int) -> None:
        """Catch-up: one page of what the user can see after id ``after``, in id order,
        as live delivery would have sent it, then a ``sync`` marker (more or done).
        Through the hub, like every frame a session gets. A page ends early (and
        says more) at half the outbox's bytes, one message at least."""
        page = await self._store.messages_after(sender, after, limit=self._sync_page)
        more = len(page) == self._sync_page
        last = after
        budget = self._sync_page_bytes
        for stored in page:
            frame = codec.stored_frame(stored)
            budget -= len(frame)
            if budget < 0 and last != after:
                more = True
                break
            await self._hub_inbox.send(Reply(session, frame))
            last = stored.id
        await self._hub_inbox.send(Reply(session, codec.sync_frame(last, more)))

    async def _relay(self, message: codec.Message, size: int) -> None:
        self._check_relay_size(message, size)
        if not message.to:
            raise ProtocolError(403, "a message to everyone is not allowed; name a user in `to`")
        if message.messageType == MessageType.GROUP:
            raise ProtocolError(400, "calls and signaling go to one user, not to a group")
        if await self._directory.user(message.to) is None:
            raise ProtocolError(404, "no such user")
        if message.contentType in _DIALS and not self._is_online(message.to):
            # Ringing nobody would leave the caller waiting: say so at once.
            raise ProtocolError(404, "that user is not online")
        message.id = 0
        message.createAt = 0
        frame = codec.relay_frame(message)
        await self._hub_inbox.send(Fanout(frame, (message.to,)))
        self._bus.publish(frame, (message.to,))

    def _check_relay_size(self, message: codec.Message, size: int) -> None:
        """A relayed frame is never stored, only queued for its recipient: cap it by kind,
        so that one user cannot fill another's outbox with a few huge frames."""
        if message.type != FrameType.WEBRTC and message.contentType in _MEDIA:
            limit, what = self._limits.max_media_frame_bytes, "a call, video or screen frame"
        else:
            limit, what = self._limits.max_signaling_bytes, "a signaling or call-control frame"
        if size > limit:
            raise ProtocolError(413, f"{what} may be at most {limit} bytes; this one is {size}")

    async def _chat(self, session: Session, message: codec.Message, sender: User) -> int:
        """Hand a chat message to the store writer; its stored content type."""
        if len(message.clientId) > 64:
            raise ProtocolError(400, "clientId is longer than 64 characters")
        if not message.to:
            raise ProtocolError(403, "a message to everyone is not allowed; name a user in `to`")
        recipients: tuple[str, ...]
        if message.messageType == MessageType.USER:
            target = await self._directory.user(message.to)
            if target is None:
                raise ProtocolError(404, "no such user")
            to_id = target.id
            # The sender too: its other sessions (tabs, devices) see what it sent.
            me = sender.uuid
            recipients = (target.uuid,) if target.uuid == me else (target.uuid, me)
        elif message.messageType == MessageType.GROUP:
            view = await self._directory.group(message.to)
            if view is None:
                raise ProtocolError(404, "no such group")
            if sender.uuid not in view.member_uuids:
                raise ProtocolError(403, "you are not a member of this group")
            to_id = view.group.id
            recipients = view.members  # the sender included, for its other sessions
        else:
            raise ProtocolError(400, "messageType must be 1 (user) or 2 (group)")

        content_type, content, url = await self._content(message, sender)
        new = NewMessage(
            sender=sender,
            to_uuid=message.to,
            to_id=to_id,
            message_type=MessageType(message.messageType),
            content_type=content_type,
            content=content,
            url=url,
            client_id=message.clientId,
            created_at_ms=time.time_ns() // 1_000_000,
        )
        await self._persist.send(
            PersistRequest(new, session, recipients, received_at=trio.current_time())
        )
        return content_type

    async def _content(self, message: codec.Message, sender: User) -> tuple[int, str, str]:
        """The stored (content type, content, url): files saved, type from the bytes."""
        content_type = message.contentType
        is_data_url = (
            content_type == ContentType.FILE
            and not message.file
            and _DATA_URL.match(message.content) is not None
        )
        if not is_data_url and len(message.content) > self._limits.max_text_chars:
            raise ProtocolError(
                413, f"text too long: limit is {self._limits.max_text_chars} characters"
            )
        if message.file:
            stored = await self._files.save(message.file, message.fileSuffix, owner=sender)
            return int(stored.content_type), message.content, stored.name
        if is_data_url:
            data = await decode_data_url(message.content, self._files.max_bytes)
            stored = await self._files.save(data, message.fileSuffix, owner=sender)
            return int(stored.content_type), "", stored.name
        if message.url:
            if await self._files.path_for(message.url) is None:
                raise ProtocolError(400, "`url` must name a file uploaded to this server")
        elif content_type != ContentType.TEXT:
            raise ProtocolError(400, "a file message needs `file` bytes, a data URL or a `url`")
        return content_type, message.content, message.url
