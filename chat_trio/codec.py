"""Protobuf <-> model, sans-I/O: the only module that imports chat_trio._pb.

Decoding refuses what cannot be a ``protocol.Message`` with a ProtocolError, so a
malformed frame costs its sender an error frame, never the session.
"""

from __future__ import annotations

import json

from google.protobuf.message import DecodeError

from chat_trio._pb.message_pb2 import Message
from chat_trio.errors import ProtocolError, key_for_status
from chat_trio.model import SYSTEM, FrameType, MessageType, StoredMessage, User

__all__ = [
    "Message",
    "ack_frame",
    "decode",
    "delivery_frame",
    "encode",
    "error_frame",
    "friend_frame",
    "group_delivery_frame",
    "mute_frame",
    "pong_frame",
    "read_frame",
    "relay_frame",
    "stored_frame",
    "sync_frame",
    "welcome_frame",
]


def decode(data: bytes | str) -> Message:
    """Parse one frame. A text frame is parsed as protobuf too, as go-chat did.

    Raises:
        ProtocolError: 400 when the bytes are not a valid message.
    """
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    message = Message()
    try:
        message.ParseFromString(raw)
    except (DecodeError, RuntimeWarning) as exc:
        raise ProtocolError(400, f"malformed frame: {exc}") from None
    return message


def _from(sender: str, message: Message) -> Message:
    """``message`` with ``from`` set (a Python keyword, so not a constructor argument)."""
    setattr(message, "from", sender)
    return message


def encode(message: Message) -> bytes:
    return message.SerializeToString()


_PONG = Message(type=FrameType.HEARTBEAT, content="pong").SerializeToString()


def pong_frame() -> bytes:
    """The heartbeat answer, the same bytes for everyone."""
    return _PONG


def welcome_frame(user_uuid: str) -> bytes:
    return _from(SYSTEM, Message(to=user_uuid, content="welcome!")).SerializeToString()


def ack_frame(client_id: str, message_id: int, created_at_ms: int) -> bytes:
    """Tells a sender that the message with its ``clientId`` is stored."""
    return Message(
        type=FrameType.ACK, clientId=client_id, id=message_id, createAt=created_at_ms
    ).SerializeToString()


def sync_frame(last_id: int, more: bool) -> bytes:
    """Ends one page of a catch-up: ``id`` is the last message sent (ask again from
    there while ``content`` is "more")."""
    return _from(
        SYSTEM, Message(type=FrameType.SYNC, id=last_id, content="more" if more else "done")
    ).SerializeToString()


def stored_frame(stored: StoredMessage) -> bytes:
    """A stored message as live delivery sends it (group messages rewritten)."""
    if stored.message_type == MessageType.GROUP:
        return group_delivery_frame(stored)
    return delivery_frame(stored)


def error_frame(code: int, reason: str, client_id: str = "", key: str = "") -> bytes:
    """A refusal: ``code`` HTTP-like, ``content`` the English reason, ``errorKey`` its
    stable name (the generic one for ``code`` unless ``key`` names another)."""
    return _from(
        SYSTEM,
        Message(
            type=FrameType.ERROR,
            code=code,
            content=reason,
            clientId=client_id,
            errorKey=key or key_for_status(code),
        ),
    ).SerializeToString()


def delivery_frame(stored: StoredMessage) -> bytes:
    """A stored one-to-one message as its recipient sees it."""
    return _stored_frame(stored, sender=stored.from_uuid, to=stored.to_uuid)


def group_delivery_frame(stored: StoredMessage) -> bytes:
    """A stored group message, rewritten the go-chat way: ``from`` is the group.

    Members see a group like a person: ``from`` = the group uuid, ``to`` = the
    sender's uuid, ``fromUsername`` and ``avatar`` the sender's. File and suffix
    are dropped. The bytes are the same for every member, so this runs once.
    """
    return _stored_frame(stored, sender=stored.to_uuid, to=stored.from_uuid)


def _stored_frame(stored: StoredMessage, *, sender: str, to: str) -> bytes:
    message = Message(
        to=to,
        avatar=stored.avatar,
        fromUsername=stored.from_username,
        content=stored.content,
        contentType=stored.content_type,
        messageType=stored.message_type,
        url=stored.url,
        id=stored.id,
        createAt=stored.created_at_ms,
    )
    return _from(sender, message).SerializeToString()


def friend_frame(*, to: str, event: str, peer: User, actor: str, at_ms: int) -> bytes:
    """Tells ``to``'s sessions that a friend request, friendship or block with
    ``peer`` changed (``event``), done by ``actor`` (``to`` or ``peer``).

    ``from`` is "System", as for the welcome: go-chat's client files a frame
    under the user its ``from`` names, and no user is named "System". The
    peer's public profile rides in ``content`` (JSON), so a list can show the
    new entry without asking.
    """
    profile = {
        "uuid": peer.uuid, "username": peer.username, "nickname": peer.nickname,
        "avatar": peer.avatar,
    }
    message = Message(
        type=FrameType.FRIEND, to=to, friendEvent=event, peer=peer.uuid, actor=actor,
        content=json.dumps(profile, ensure_ascii=False), createAt=at_ms,
    )
    return _from(SYSTEM, message).SerializeToString()


def relay_frame(message: Message) -> bytes:
    """An ephemeral message (call, signaling, frame) as forwarded, unchanged."""
    return message.SerializeToString()


def read_frame(
    reader: str, conversation: str, message_type: int, read_id: int, unread: int = 0
) -> bytes:
    """A read position: ``reader`` (``from``) has read up to message ``read_id`` in
    the conversation named ``to`` as the receiver names it (the peer or group for
    the reader's own sessions, with ``unread`` left; the receiver itself for a
    1:1 peer's receipt)."""
    return _from(reader, Message(
        type=FrameType.READ, to=conversation, messageType=message_type, id=read_id,
        unread=unread,
    )).SerializeToString()


def mute_frame(user: str, conversation: str, message_type: int, muted: bool) -> bytes:
    """``user`` muted (or unmuted) the conversation ``to``: for their own sessions."""
    return _from(user, Message(
        type=FrameType.MUTE, to=conversation, messageType=message_type, muted=muted
    )).SerializeToString()
