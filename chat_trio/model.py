"""Domain types: users, groups, messages, and the content-type numbers of the wire.

Plain frozen records with no I/O and no Trio, so every layer can share them.
Storage turns rows into these, the codec turns these into protobuf, the API turns
these into camelCase JSON.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

SYSTEM = "System"  #: the ``from`` of frames the server itself sends


class MessageType(enum.IntEnum):
    """``messageType`` on the wire: who ``to`` names."""

    USER = 1
    GROUP = 2


class ContentType(enum.IntEnum):
    """``contentType`` on the wire (go-chat's numbering)."""

    TEXT = 1
    FILE = 2
    IMAGE = 3
    AUDIO = 4
    VIDEO = 5
    AUDIO_ONLINE = 6
    VIDEO_ONLINE = 7
    VIDEO_FRAME = 8
    SCREEN_FRAME = 9
    AUDIO_DIAL = 11
    AUDIO_ACCEPT = 12
    AUDIO_CANCEL = 13
    AUDIO_REJECT = 14
    VIDEO_DIAL = 15
    VIDEO_ACCEPT = 16
    VIDEO_CANCEL = 17
    VIDEO_REJECT = 18


#: Content types that are chat messages: stored, then delivered.
STORED_CONTENT_TYPES = frozenset(range(ContentType.TEXT, ContentType.VIDEO + 1))


class FrameType:
    """``type`` on the wire."""

    CHAT = ""
    HEARTBEAT = "heatbeat"  # go-chat's spelling, kept for compatibility
    WEBRTC = "webrtc"
    ACK = "ack"
    ERROR = "error"
    SYNC = "sync"  # catch-up: the client asks for what came after an id
    FRIEND = "friend"  # a friend request, friendship or block changed (server only)
    READ = "read"  # a read position: set by a client, pushed by the server
    MUTE = "mute"  # a conversation muted or unmuted (pushed by the server)


@dataclass(frozen=True, slots=True)
class User:
    id: int
    uuid: str
    username: str
    nickname: str
    email: str
    avatar: str
    #: The client language the user chose (chat_trio.languages); "" follows the browser.
    language: str = ""


@dataclass(frozen=True, slots=True)
class Group:
    id: int
    uuid: str
    owner_id: int
    name: str
    notice: str
    created_at_ms: int


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A chat message accepted from a client and waiting to be stored."""

    sender: User
    to_uuid: str
    to_id: int
    message_type: MessageType
    content_type: int
    content: str
    url: str
    client_id: str
    created_at_ms: int


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A chat message as the database holds it, with its id."""

    id: int
    from_uuid: str
    from_username: str
    avatar: str
    to_uuid: str
    to_username: str
    message_type: int
    content_type: int
    content: str
    url: str
    client_id: str
    created_at_ms: int


@dataclass(frozen=True, slots=True)
class ReadMove:
    """What marking a conversation read did, and who may learn of it."""

    #: The reader's position now: the id of the newest message they have read there.
    read_id: int
    #: True when the position grew (False: it was already there or past it).
    moved: bool
    #: Messages from others after the position.
    unread: int
    #: The reader shares read receipts (their setting).
    receipts: bool
    #: In a 1:1 conversation, the peer shares read receipts too (and so sees the
    #: reader's); always False in a group.
    peer_receipts: bool


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    """One conversation of one user, as their conversation list shows it."""

    #: 1 (``peer`` is a user) or 2 (a group), as ``messageType`` on the wire.
    message_type: int
    user: User | None
    group: Group | None
    #: The newest message, None for a conversation without messages yet.
    last_message: StoredMessage | None
    #: Milliseconds since the epoch: the last message's time, else when the
    #: friendship or the membership began.
    activity_ms: int
    read_id: int
    unread: int
    muted: bool
    #: 1:1 only: the peer's read position, None when receipts hide it (either
    #: side turned them off) and always None in a group.
    peer_read_id: int | None

    @property
    def uuid(self) -> str:
        if self.group is not None:
            return self.group.uuid
        return self.user.uuid if self.user is not None else ""
