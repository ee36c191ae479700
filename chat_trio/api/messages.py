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


def _int_arg(*names: str, default: int | None = None) -> int | None:
    raw = _arg(*names)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ProtocolError(400, f"`{names[-1]}` must be a whole number") from None


def _limit() -> int:
    limit = _int_arg("Limit", "limit", default=DEFAULT_HISTORY_LIMIT) or DEFAULT_HISTORY_LIMIT
    return max(1, min(limit, MAX_LIMIT))


@blueprint.get("/message")
async def history() -> Response:
    """A conversation or a group, oldest first; paged with ``before`` or ``after`` (ids)."""
    user = await current_user()
    uuid = _arg("Uuid", "uuid")
    kind = _arg("MessageType", "messageType") or "1"
    limit = _limit()
    before = _int_arg("Before", "before")
    after = _int_arg("After", "after")
    if before is not None and after is not None:
        raise ProtocolError(400, "give `before` or `after`, not both")
    s = services()
    if kind == str(int(MessageType.USER)):
        require_self(user, uuid or user.uuid)
        friend_name = _arg("FriendUsername", "friendUsername")
        if not friend_name:
            raise ProtocolError(400, "`FriendUsername` is required")
        friend = await s.store.user_by_username(friend_name)
        if friend is None:
            raise ProtocolError(404, "no such user", key="no_such_user")
        items = await s.store.conversation(user, friend, limit=limit, before=before, after=after)
    elif kind == str(int(MessageType.GROUP)):
        view = await s.directory.group(uuid)
        if view is None:
            raise ProtocolError(404, "no such group", key="no_such_group")
        if user.uuid not in view.member_uuids:
            raise ProtocolError(403, "you are not a member of this group", key="not_a_member")
        items = await s.store.group_history(
            view.group, limit=limit, before=before, after=after
        )
    else:
        raise ProtocolError(400, "`MessageType` must be 1 (user) or 2 (group)")
    return ok([message_json(m) for m in items])


@blueprint.get("/message/since")
async def since() -> Response:
    """Catch-up: everything the caller can see after message id ``id``, in id order.

    A client that reconnects asks with the last id it saw and repeats with the last
    id of each page until a page comes back shorter than ``limit``.
    """
    user = await current_user()
    after = _int_arg("Id", "id", default=0) or 0
    items = await services().store.messages_after(user, after, limit=_limit())
    return ok([message_json(m) for m in items])
