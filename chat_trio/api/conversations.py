"""The caller's conversations and their read state: the list, read positions, mutes,
"seen by", and the read-receipts setting.

Every route acts for the caller only (no user in the path) and checks that the
conversation is theirs (chat_trio/readstate.py); docs/protocol.md, "Read state,
receipts and mutes", describes the routes and the frames they push.
"""

from __future__ import annotations

from typing import Any, TypedDict

from quart import Blueprint, Response, request

from chat_trio.api.common import (
    GroupJson,
    MessageJson,
    UserJson,
    current_user,
    group_json,
    iso,
    json_body,
    message_json,
    ok,
    services,
    user_json_for,
)
from chat_trio.errors import ProtocolError
from chat_trio.model import ConversationSummary, MessageType, User

blueprint = Blueprint("conversations", __name__)

#: Conversations per page of ``GET /conversations``, unless ``limit`` says otherwise.
DEFAULT_PAGE = 50
MAX_PAGE = 200

_KINDS = {"user": MessageType.USER, "group": MessageType.GROUP}


class ConversationJson(TypedDict):
    """One conversation of the caller in ``GET /conversations``."""

    kind: str
    messageType: int
    uuid: str
    #: The peer (kind "user") or the group (kind "group"); the other is null.
    user: UserJson | None
    group: GroupJson | None
    lastMessage: MessageJson | None
    #: ISO 8601 (ms, UTC): the last message's time, else when the friendship or
    #: the membership began.
    lastActivity: str
    readId: int
    unread: int
    muted: bool
    #: 1:1 only: the peer's read position; null in a group or when receipts hide it.
    peerReadId: int | None


def conversation_json(viewer: User, c: ConversationSummary) -> ConversationJson:
    return {
        "kind": "group" if c.message_type == MessageType.GROUP else "user",
        "messageType": c.message_type,
        "uuid": c.uuid,
        "user": user_json_for(viewer, c.user) if c.user is not None else None,
        "group": group_json(c.group) if c.group is not None else None,
        "lastMessage": message_json(c.last_message) if c.last_message is not None else None,
        "lastActivity": iso(c.activity_ms),
        "readId": c.read_id,
        "unread": c.unread,
        "muted": c.muted,
        "peerReadId": c.peer_read_id,
    }


def _cursor(c: ConversationSummary) -> str:
    return f"{c.activity_ms}.{c.message_type}.{c.uuid}"


def _parse_cursor(raw: str) -> tuple[int, int, str]:
    parts = raw.split(".", 2)
    if len(parts) == 3 and parts[0].isdigit() and parts[1] in ("1", "2") and parts[2]:
        return int(parts[0]), int(parts[1]), parts[2]
    raise ProtocolError(400, "`before` must be the `next` of an earlier page")


def _limit() -> int:
    raw = request.args.get("limit", "").strip()
    if not raw:
        return DEFAULT_PAGE
    if not raw.isdigit() or int(raw) < 1:
        raise ProtocolError(400, "`limit` must be a whole number above 0")
    return min(int(raw), MAX_PAGE)


def _kind(kind: str) -> int:
    found = _KINDS.get(kind)
    if found is None:
        raise ProtocolError(404, "no such route: a conversation is /conversations/user/... "
                                 "or /conversations/group/...")
    return int(found)


def _field(body: dict[str, Any], name: str, kind: type) -> Any:
    value = body.get(name)
    # bool is an int in Python: an id of `true` is refused, and a flag of 1 too
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        what = "a whole number" if kind is int else "true or false"
        raise ProtocolError(400, f"`{name}` must be {what}")
    return value


@blueprint.get("/conversations")
async def conversations() -> Response:
    """A page of the caller's conversations, newest activity first."""
    user = await current_user()
    limit = _limit()
    raw = request.args.get("before", "").strip()
    before = _parse_cursor(raw) if raw else None
    found = await services().store.conversations(user, limit=limit + 1, before=before)
    page = found[:limit]
    more = len(found) > limit
    return ok({
        "items": [conversation_json(user, c) for c in page],
        "next": _cursor(page[-1]) if more else None,
    })


@blueprint.route("/conversations/<kind>/<uuid>/read", methods=["PUT", "POST"])
async def mark_read(kind: str, uuid: str) -> Response:
    """Move the caller's read position up to message ``id`` (never down)."""
    user = await current_user()
    message_type = _kind(kind)
    body = await json_body()
    message_id = _field(body, "id", int)
    move = await services().reads.mark_read(user, message_type, uuid, message_id)
    return ok({"readId": move.read_id, "unread": move.unread, "moved": move.moved})


@blueprint.get("/conversations/<kind>/<uuid>/reads")
async def positions(kind: str, uuid: str) -> Response:
    """The others' read positions in one of the caller's conversations: with them a
    client shows "seen by N" under every message at once."""
    user = await current_user()
    message_type = _kind(kind)
    found = await services().reads.positions(user, message_type, uuid)
    return ok({"items": [{"user": user_json_for(user, u), "readId": r} for u, r in found]})


@blueprint.put("/conversations/<kind>/<uuid>/mute")
async def mute(kind: str, uuid: str) -> Response:
    """Mute (``muted: true``) or unmute a conversation for the caller."""
    user = await current_user()
    message_type = _kind(kind)
    muted = _field(await json_body(), "muted", bool)
    changed = await services().reads.set_muted(user, message_type, uuid, muted)
    return ok({"muted": muted, "changed": changed})


@blueprint.get("/message/<int:message_id>/seen")
async def seen(message_id: int) -> Response:
    """Who, other than its sender, has read a message ("seen by N")."""
    user = await current_user()
    message, readers = await services().reads.seen_by(user, message_id)
    return ok({
        "id": message.id,
        "count": len(readers),
        "users": [user_json_for(user, r) for r in readers],
    })


@blueprint.get("/settings")
async def settings() -> Response:
    user = await current_user()
    return ok({"readReceipts": await services().store.read_receipts(user.id)})


@blueprint.put("/settings")
async def change_settings() -> Response:
    """Change the caller's settings: ``readReceipts`` (true or false)."""
    user = await current_user()
    on = _field(await json_body(), "readReceipts", bool)
    await services().store.set_read_receipts(user.id, on)
    return ok({"readReceipts": on})
