"""Blocking: ``GET /block``, ``POST /block/<uuid>``, ``DELETE /block/<uuid>``.

A block stops 1:1 messages, calls and friend requests between the two users,
both ways (checked by the server: intake/authorize.py for frames, the store
for requests), and ends their friendship and pending requests. It is silent:
the blocked user is told only what ended (the friendship is removed, their
request declined, the blocker's request cancelled), never "blocked"; a
message or call they try is refused as "not accepted". Groups are not
touched (docs/protocol.md, Blocking, says why).
"""

from __future__ import annotations

from quart import Blueprint, Response

from chat_trio.api.common import current_user, ok, services, user_json_for
from chat_trio.api.friend_push import FriendEvent, push
from chat_trio.api.friends import other_user
from chat_trio.errors import ProtocolError

blueprint = Blueprint("blocks", __name__)


@blueprint.get("/block")
async def blocked() -> Response:
    """The users the caller blocked, by username."""
    me = await current_user()
    return ok([user_json_for(me, u) for u in await services().store.blocked_users(me.id)])


@blueprint.post("/block/<uuid>")
async def block(uuid: str) -> Response:
    me = await current_user()
    s = services()
    other = await other_user(s, me, uuid, "block")
    outcome = await s.store.block(me.id, other.id)
    if not outcome.blocked:
        raise ProtocolError(409, "you already blocked this user")
    s.directory.blocks.forget(me.uuid, other.uuid)
    s.bus.publish_block_change((me.uuid, other.uuid))  # before the pushes: see bus/redis.py
    await push(s, FriendEvent.BLOCK, actor=me, other=other, to_other=False)
    # what the blocked user sees: the end of each tie, as if answered one by one
    if outcome.was_friend:
        await push(s, FriendEvent.REMOVE, actor=me, other=other, only_other=True)
    if outcome.had_incoming:
        await push(s, FriendEvent.DECLINE, actor=me, other=other, only_other=True)
    if outcome.had_outgoing:
        await push(s, FriendEvent.CANCEL, actor=me, other=other, only_other=True)
    return ok(user_json_for(me, other))


@blueprint.delete("/block/<uuid>")
async def unblock(uuid: str) -> Response:
    """Lift a block. The friendship it ended does not come back: ask again."""
    me = await current_user()
    s = services()
    other = await other_user(s, me, uuid, "unblock")
    if not await s.store.unblock(me.id, other.id):
        raise ProtocolError(404, "you have not blocked this user")
    s.directory.blocks.forget(me.uuid, other.uuid)
    s.bus.publish_block_change((me.uuid, other.uuid))
    await push(s, FriendEvent.UNBLOCK, actor=me, other=other, to_other=False)
    return ok(user_json_for(me, other))
