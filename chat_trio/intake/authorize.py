"""Who may send what to whom, and so who receives it.

A chat message names an existing user, or a group the sender belongs to; its
recipients are the named user's (or every member's) sessions and the sender's
own other sessions. A relayed frame (a call, signaling, video or screen frame)
names one existing user, and a dial names one who is online somewhere, so that
the caller is not left ringing nobody. A frame to everyone (no ``to``) is never
allowed. Neither a 1:1 message nor a relayed frame passes between two users
when either blocked the other (groups are shared rooms: a block does not
silence anyone there; see docs/protocol.md, Blocking).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chat_trio import codec
from chat_trio.directory import Directory
from chat_trio.errors import ProtocolError
from chat_trio.model import ContentType, MessageType, User

_DIALS = frozenset({ContentType.AUDIO_DIAL, ContentType.VIDEO_DIAL})


@dataclass(frozen=True, slots=True)
class Addressee:
    """Where a chat message goes."""

    #: The database id of the user or group it was sent to.
    to_id: int
    #: Every user whose sessions get the stored message, the sender included.
    recipients: tuple[str, ...]


def _require_to(message: codec.Message) -> None:
    if not message.to:
        raise ProtocolError(
            403, "a message to everyone is not allowed; name a user in `to`", key="no_broadcast"
        )


async def chat_addressee(directory: Directory, sender: User, message: codec.Message) -> Addressee:
    """The user or group a chat message from ``sender`` goes to.

    Raises:
        ProtocolError: 403 without ``to``, from a non-member of the group, or
            between users one of whom blocked the other; 404
            for no such user or group, 400 for another ``messageType``.
    """
    _require_to(message)
    if message.messageType == MessageType.USER:
        target = await directory.user(message.to)
        if target is None:
            raise ProtocolError(404, "no such user", key="no_such_user")
        await _refuse_blocked(directory, sender.uuid, target.uuid, "message")
        # The sender too: its other sessions (tabs, devices) see what it sent.
        me = sender.uuid
        recipients = (target.uuid,) if target.uuid == me else (target.uuid, me)
        return Addressee(target.id, recipients)
    if message.messageType == MessageType.GROUP:
        view = await directory.group(message.to)
        if view is None:
            raise ProtocolError(404, "no such group", key="no_such_group")
        if sender.uuid not in view.member_uuids:
            raise ProtocolError(403, "you are not a member of this group", key="not_a_member")
        return Addressee(view.group.id, view.members)  # the sender included
    raise ProtocolError(400, "messageType must be 1 (user) or 2 (group)")


async def _refuse_blocked(directory: Directory, sender: str, target: str, what: str) -> None:
    """Raises ProtocolError 403 when ``sender`` blocked ``target`` or the reverse."""
    if sender == target:
        return
    ties = await directory.blocks.ties(sender)
    if target in ties.blocked:
        raise ProtocolError(403, f"you blocked this user; unblock them to {what} them")
    if target in ties.blocked_by:
        raise ProtocolError(403, f"this user does not accept a {what} from you")


async def relay_target(
    directory: Directory,
    message: codec.Message,
    is_online: Callable[[str], bool],
    call_peer: str | None = None,
) -> str:
    """The one user a relayed frame goes to: ``to``, or ``call_peer`` when the call
    table readdressed it (the peer of the call the sending device rings for or
    is in: go-chat's client sends its answer, candidates and reject to the open
    chat, or to nobody). ``from`` must already be the authenticated sender (the
    intake stamps it).

    Raises:
        ProtocolError: 403 without ``to`` and outside a call, or between users one
            of whom blocked the other; 400 for a group or a call to oneself; 404
            for no such user or a dial to a user with no live session on any node.
    """
    if call_peer is not None:
        message.to = call_peer
        message.messageType = MessageType.USER
    _require_to(message)
    if message.to == getattr(message, "from"):
        raise ProtocolError(400, "calls and signaling go to another user, not to yourself")
    if message.messageType == MessageType.GROUP:
        raise ProtocolError(400, "calls and signaling go to one user, not to a group")
    if await directory.user(message.to) is None:
        raise ProtocolError(404, "no such user", key="no_such_user")
    await _refuse_blocked(directory, getattr(message, "from"), message.to, "call")
    if message.contentType in _DIALS and not is_online(message.to):
        # Ringing nobody would leave the caller waiting: say so at once.
        raise ProtocolError(404, "that user is not online", key="peer_offline")
    return message.to
