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
