"""GET /message: a conversation's or a group's history, oldest first.

The query keys are capitalised (``Uuid``, ``MessageType``, ``FriendUsername``)
because that is what go-chat's client sends; the camelCase spelling works too.
"""

from __future__ import annotations

from quart import Blueprint, Response, request

from chat_trio.api.common import current_user, message_json, ok, require_self, services
from chat_trio.errors import ProtocolError
from chat_trio.model import MessageType
from chat_trio.storage.sql import DEFAULT_HISTORY_LIMIT

blueprint = Blueprint("messages", __name__)

MAX_LIMIT = 1000


def _arg(*names: str) -> str:
    for name in names:
        value = request.args.get(name)
        if value is not None:
            return value.strip()
    return ""


@blueprint.get("/message")
async def history() -> Response:
    user = await current_user()
    uuid = _arg("Uuid", "uuid")
    kind = _arg("MessageType", "messageType") or "1"
    try:
        limit = int(_arg("Limit", "limit") or DEFAULT_HISTORY_LIMIT)
    except ValueError:
        raise ProtocolError(400, "`limit` must be a number") from None
    limit = max(1, min(limit, MAX_LIMIT))
    s = services()
    if kind == str(int(MessageType.USER)):
        require_self(user, uuid or user.uuid)
        friend_name = _arg("FriendUsername", "friendUsername")
        if not friend_name:
            raise ProtocolError(400, "`FriendUsername` is required")
        friend = await s.store.user_by_username(friend_name)
        if friend is None:
            raise ProtocolError(404, "no such user")
        items = await s.store.conversation(user, friend, limit=limit)
    elif kind == str(int(MessageType.GROUP)):
        view = await s.directory.group(uuid)
        if view is None:
            raise ProtocolError(404, "no such group")
        if user.uuid not in view.member_uuids:
            raise ProtocolError(403, "you are not a member of this group")
        items = await s.store.group_history(view.group, limit=limit)
    else:
        raise ProtocolError(400, "`MessageType` must be 1 (user) or 2 (group)")
    return ok([message_json(m) for m in items])
