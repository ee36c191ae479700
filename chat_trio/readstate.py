"""Read positions, read receipts and mutes: checked, stored, then pushed live.

The socket (a ``read`` frame, through the intake) and the HTTP API
(api/conversations.py) both come here, so both take the same checks and push
the same frames:

- a conversation is named as a message names it: a user uuid with message type
  1, a group uuid with type 2; the user must exist, the group must exist and the
  caller must be one of its members (404 / 403);
- a read position is a message id of that conversation. It is moved up to the
  newest message at or below the id given (so "read up to the newest" can name
  any larger id) and never down; a conversation without such a message is 404;
- when it moved, every session of the reader gets a ``read`` frame (here through
  the hub, on other nodes through the bus), and in 1:1 the peer's sessions get
  one too, unless either side turned read receipts off; when it did not move,
  only the session that asked hears the position it already had;
- a mute or unmute that changed something goes to every session of the user.

Pushed ``read`` and ``mute`` frames reach only sessions whose handshake asked for
them (``?features=reads``, chat_trio/features.py): go-chat's client would show a
frame of an unknown type as an empty message. A session that sends a ``read``
frame itself is answered in any case.

A user with read receipts off shares their position with nobody and sees
nobody's: no receipt frames either way, no ``peerReadId`` in their list, and
"seen by" refused to them (403) and never counting them.
"""

from __future__ import annotations

import trio

from chat_trio import codec, features
from chat_trio.bus import Bus
from chat_trio.directory import Directory
from chat_trio.errors import ProtocolError
from chat_trio.hub import Fanout, HubEvent, Peer, Reply
from chat_trio.model import MessageType, ReadMove, StoredMessage, User
from chat_trio.storage import Store

__all__ = ["ReadState"]


class ReadState:
    def __init__(
        self, store: Store, directory: Directory, hub_inbox: trio.MemorySendChannel[HubEvent],
        bus: Bus,
    ) -> None:
        self._store = store
        self._directory = directory
        self._hub_inbox = hub_inbox
        #: Carries the frames to the user's and the peer's sessions on other nodes.
        self._bus = bus

    async def peer_id(self, user: User, message_type: int, uuid: str) -> int:
        """The database id of the user or group a conversation of ``user`` names.

        Raises:
            ProtocolError: 400 for another message type or no uuid, 404 for no such
                user or group, 403 for a group ``user`` is not a member of.
        """
        if not uuid:
            raise ProtocolError(400, "name the conversation: a user or group uuid in `to`")
        if message_type == MessageType.USER:
            peer = await self._directory.user(uuid)
            if peer is None:
                raise ProtocolError(404, "no such user")
            return peer.id
        if message_type == MessageType.GROUP:
            view = await self._directory.group(uuid)
            if view is None:
                raise ProtocolError(404, "no such group")
            if user.uuid not in view.member_uuids:
                raise ProtocolError(403, "you are not a member of this group")
            return view.group.id
        raise ProtocolError(400, "messageType must be 1 (user) or 2 (group)")

    async def mark_read(
        self, user: User, message_type: int, uuid: str, message_id: int,
        origin: Peer | None = None,
    ) -> ReadMove:
        """Move ``user``'s read position in a conversation and tell who may know.

        ``origin`` is the session that asked (None over HTTP): when the position
        did not move, only it is answered.

        Raises:
            ProtocolError: as :meth:`peer_id`, 400 for an id below 1, 404 when
                the conversation has no message at or below the id.
        """
        if message_id < 1:
            raise ProtocolError(400, "`id` must be a message id (a whole number above 0)")
        peer_id = await self.peer_id(user, message_type, uuid)
        move = await self._store.mark_read(user, message_type, peer_id, message_id)
        if move is None:
            raise ProtocolError(404, "no message at or before that id in this conversation")
        own = codec.read_frame(user.uuid, uuid, message_type, move.read_id, move.unread)
        if not move.moved:
            if origin is not None:
                await self._hub_inbox.send(Reply(origin, own))
            return move
        events: list[Fanout] = [Fanout(own, (user.uuid,), feature=features.READS)]
        self._bus.publish_notice(own, (user.uuid,), features.READS)
        if move.receipts and move.peer_receipts:
            receipt = codec.read_frame(user.uuid, uuid, message_type, move.read_id)
            events.append(Fanout(receipt, (uuid,), feature=features.READS))
            self._bus.publish_notice(receipt, (uuid,), features.READS)
        for event in events:
            await self._hub_inbox.send(event)
        return move

    async def set_muted(self, user: User, message_type: int, uuid: str, muted: bool) -> bool:
        """Mute or unmute a conversation of ``user``; a change goes to all their
        sessions. Returns whether anything changed. Raises: as :meth:`peer_id`."""
        peer_id = await self.peer_id(user, message_type, uuid)
        changed = await self._store.set_muted(user, message_type, peer_id, muted)
        if changed:
            frame = codec.mute_frame(user.uuid, uuid, message_type, muted)
            await self._hub_inbox.send(Fanout(frame, (user.uuid,), feature=features.READS))
            self._bus.publish_notice(frame, (user.uuid,), features.READS)
        return changed

    async def seen_by(self, user: User, message_id: int) -> tuple[StoredMessage, list[User]]:
        """A message and who, other than its sender, has read it (those who share
        read receipts), for a participant of its conversation who shares them too.

        Raises:
            ProtocolError: 403 when ``user`` has read receipts off or is not in the
                message's conversation, 404 for no such message.
        """
        if not await self._store.read_receipts(user.id):
            raise ProtocolError(
                403, "your read receipts are off: turn them on to see who read what"
            )
        message = await self._store.message_by_id(message_id)
        if message is None:
            raise ProtocolError(404, "no such message")
        sender = await self._directory.user(message.from_uuid)
        if sender is None:
            raise ProtocolError(404, "no such message")
        if message.message_type == MessageType.GROUP:
            view = await self._directory.group(message.to_uuid)
            if view is None or user.uuid not in view.member_uuids:
                raise ProtocolError(403, "you are not a member of this group")
            members = await self._store.group_members(view.group.id)
            candidates = [m.id for m in members if m.id != sender.id]
            conversation = view.group.id
        else:
            if user.uuid not in (message.from_uuid, message.to_uuid):
                raise ProtocolError(403, "that message is not in a conversation of yours")
            recipient = await self._directory.user(message.to_uuid)
            candidates = (
                [recipient.id] if recipient is not None and recipient.id != sender.id else []
            )
            conversation = sender.id  # the recipient's conversation is named by the sender
        readers = await self._store.read_positions(
            message.message_type, conversation, candidates, at_least=message.id
        )
        return message, [reader for reader, _ in readers]

    async def positions(
        self, user: User, message_type: int, uuid: str
    ) -> list[tuple[User, int]]:
        """The read positions of the others in a conversation of ``user`` (the 1:1
        peer, or the group's other members), those who share read receipts and have
        one, for a user who shares them too.

        Raises:
            ProtocolError: as :meth:`peer_id`, and 403 when ``user`` has receipts off.
        """
        peer_id = await self.peer_id(user, message_type, uuid)
        if not await self._store.read_receipts(user.id):
            raise ProtocolError(
                403, "your read receipts are off: turn them on to see who read what"
            )
        if message_type == MessageType.GROUP:
            members = await self._store.group_members(peer_id)
            others = [m.id for m in members if m.id != user.id]
            return await self._store.read_positions(message_type, peer_id, others)
        if peer_id == user.id:
            return []
        # the peer's conversation with the caller is named by the caller
        return await self._store.read_positions(message_type, user.id, [peer_id])
