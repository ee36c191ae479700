"""POST /friend: two users become friends of each other."""

from __future__ import annotations

from quart import Blueprint, Response

from chat_trio.api.common import current_user, json_body, ok, require_self, services, text_field
from chat_trio.errors import Conflict, ProtocolError

blueprint = Blueprint("friends", __name__)


@blueprint.post("/friend")
async def add_friend() -> Response:
    user = await current_user()
    body = await json_body()
    require_self(user, text_field(body, "uuid") or user.uuid)
    friend_name = text_field(body, "friendUsername", required=True, max_length=64)
    s = services()
    friend = await s.store.user_by_username(friend_name)
    if friend is None:
        raise ProtocolError(404, "no such user", key="no_such_user")
    if friend.id == user.id:
        raise ProtocolError(400, "you cannot add yourself as a friend", key="friend_self")
    try:
        await s.store.add_friend(user.id, friend.id)
    except Conflict:
        raise ProtocolError(409, "you are already friends", key="already_friends") from None
    return ok(None)
