"""Who may send what to whom, and so who receives it.

A chat message names an existing user, or a group the sender belongs to; its
recipients are the named user's (or every member's) sessions and the sender's
own other sessions. A relayed frame (a call, signaling, video or screen frame)
names one existing user, and a dial names one who is online somewhere, so that
the caller is not left ringing nobody. A frame to everyone (no ``to``) is never
allowed.
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
        ProtocolError: 403 without ``to`` or from a non-member of the group, 404
            for no such user or group, 400 for another ``messageType``.
    """
    _require_to(message)
    if message.messageType == MessageType.USER:
        target = await directory.user(message.to)
        if target is None:
            raise ProtocolError(404, "no such user", key="no_such_user")
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


async def relay_target(
    directory: Directory, message: codec.Message, is_online: Callable[[str], bool]
) -> str:
    """The one user a relayed frame goes to.

    Raises:
        ProtocolError: 403 without ``to``, 400 for a group, 404 for no such user
            or a dial to a user with no live session on any node.
    """
    _require_to(message)
    if message.messageType == MessageType.GROUP:
        raise ProtocolError(400, "calls and signaling go to one user, not to a group")
    if await directory.user(message.to) is None:
        raise ProtocolError(404, "no such user", key="no_such_user")
    if message.contentType in _DIALS and not is_online(message.to):
        # Ringing nobody would leave the caller waiting: say so at once.
        raise ProtocolError(404, "that user is not online", key="peer_offline")
    return message.to
