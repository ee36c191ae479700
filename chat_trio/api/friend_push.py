"""Pushing a friend event to the sessions of the two users it concerns.

A change made over HTTP (a request sent, accepted, declined, cancelled, a
friendship ended, a block) reaches every live session of both users at once:
the other user's devices, and the actor's own devices, the one that made the
request included (it has no socket in the request to skip, and the frame is
idempotent state, so applying it twice is harmless). Sessions on this node get
it through the hub, those on other nodes through the bus, like a relayed call
frame. A session that is offline misses it and reads the lists again
(``GET /friend/requests``, ``GET /user``, ``GET /block``) when it comes back.
"""

from __future__ import annotations

import time

from chat_trio import codec
from chat_trio.hub import Fanout
from chat_trio.model import User
from chat_trio.services import Services


class FriendEvent:
    """``friendEvent`` values (docs/protocol.md, Friends)."""

    REQUEST = "request"
    ACCEPT = "accept"
    DECLINE = "decline"
    CANCEL = "cancel"
    REMOVE = "remove"
    BLOCK = "block"
    UNBLOCK = "unblock"


async def push(
    s: Services, event: str, *, actor: User, other: User, to_other: bool = True,
    only_other: bool = False,
) -> None:
    """Tell ``event`` to ``actor``'s sessions and ``other``'s: not to ``other`` with
    ``to_other`` False, only to ``other`` with ``only_other`` (a block tells the
    blocked user what it ended, never that it was a block).

    Checkpoints: waits for room in the hub's inbox.
    """
    at = time.time_ns() // 1_000_000
    if not only_other:
        mine = codec.friend_frame(
            to=actor.uuid, event=event, peer=other, actor=actor.uuid, at_ms=at
        )
        await _send(s, mine, actor.uuid)
    if to_other:
        theirs = codec.friend_frame(
            to=other.uuid, event=event, peer=actor, actor=actor.uuid, at_ms=at
        )
        await _send(s, theirs, other.uuid)


async def _send(s: Services, frame: bytes, user_uuid: str) -> None:
    await s.hub.inbox.send(Fanout(frame, (user_uuid,)))
    s.bus.publish(frame, (user_uuid,))
