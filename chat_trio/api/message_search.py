"""GET /message/search: full-text search over every text message the caller may read.

What the caller may read is its one-to-one messages (sent or received) and the
messages of the groups it is a member of now; nothing else is ever a candidate,
whatever the filters say. The query grammar and the excerpts are in
chat_trio/search.py, the SQL in storage/message_search.py; docs/protocol.md ("Message
search") is the reference for clients.

Parameters: ``q`` (required), ``conversation`` (a peer's uuid or a group's
uuid), ``sender`` (a uuid or a username), ``after``/``before`` (ms since the
epoch, exclusive), ``cursor`` (the ``next`` of the previous page), ``limit``
(1..100, default 20). A conversation that does not exist and a group the
caller is not in get the same 404, so the answer does not tell them apart.
"""

from __future__ import annotations

import uuid as uuid_lib
from typing import TypedDict

from quart import Blueprint, Response, request

from chat_trio.api.common import current_user, iso, ok, services
from chat_trio.errors import ProtocolError
from chat_trio.model import User
from chat_trio.search import QueryError, Segment, excerpt, parse_query
from chat_trio.storage.message_search import SearchHit, SearchRequest

blueprint = Blueprint("message_search", __name__)

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
#: The largest number accepted for a time or a cursor (a signed 64-bit column).
MAX_NUMBER = 2**63 - 1


class SegmentJson(TypedDict):
    """A piece of an excerpt: text to show as text; ``match``: a part that matched."""

    text: str
    match: bool


class SearchHitJson(TypedDict):
    id: int
    #: 1: one-to-one (``conversation`` is the other user), 2: group.
    messageType: int
    conversation: str
    conversationName: str
    fromUserId: str
    fromUsername: str
    #: ISO 8601, in milliseconds, UTC; and the same instant in ms since the epoch.
    createAt: str
    createdAtMs: int
    excerpt: list[SegmentJson]


class SearchPageJson(TypedDict):
    items: list[SearchHitJson]
    #: The ``cursor`` for the next page; null when there is nothing more.
    next: int | None


def _number(name: str, *, low: int = 0) -> int | None:
    raw = request.args.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        raise ProtocolError(400, f"`{name}` must be a whole number") from None
    if not low <= value <= MAX_NUMBER:
        raise ProtocolError(400, f"`{name}` must be between {low} and {MAX_NUMBER}")
    return value


def _limit() -> int:
    limit = _number("limit", low=1)
    if limit is None:
        return DEFAULT_LIMIT
    if limit > MAX_LIMIT:
        raise ProtocolError(400, f"`limit` must be between 1 and {MAX_LIMIT}")
    return limit


def _is_uuid(value: str) -> bool:
    try:
        uuid_lib.UUID(value)
    except ValueError:
        return False
    return True


async def _conversation(user: User, uuid: str) -> tuple[int | None, int | None]:
    """(peer id, group id) of the ``conversation`` filter. Raises: ProtocolError 404."""
    s = services()
    if not _is_uuid(uuid):
        raise ProtocolError(400, "`conversation` must be a user's or a group's uuid")
    peer = await s.store.user_by_uuid(uuid)
    if peer is not None:
        return peer.id, None
    view = await s.directory.group(uuid)
    if view is None or user.uuid not in view.member_uuids:
        # the same answer for a group that exists but is not the caller's
        raise ProtocolError(404, "no such conversation")
    return None, view.group.id


async def _sender(name: str) -> int:
    store = services().store
    found = await (store.user_by_uuid(name) if _is_uuid(name) else store.user_by_username(name))
    if found is None:
        raise ProtocolError(404, "no such sender")
    return found.id


def _segments(parts: list[Segment]) -> list[SegmentJson]:
    return [{"text": p.text, "match": p.match} for p in parts]


def hit_json(hit: SearchHit, parts: list[Segment]) -> SearchHitJson:
    return {
        "id": hit.id,
        "messageType": hit.message_type,
        "conversation": hit.conversation_uuid,
        "conversationName": hit.conversation_name,
        "fromUserId": hit.from_uuid,
        "fromUsername": hit.from_username,
        "createAt": iso(hit.created_at_ms),
        "createdAtMs": hit.created_at_ms,
        "excerpt": _segments(parts),
    }


@blueprint.get("/message/search")
async def search() -> Response:
    """One page of matches, newest first (see the module docstring)."""
    user = await current_user()
    try:
        terms = parse_query(request.args.get("q", ""))
    except QueryError as exc:
        raise ProtocolError(400, str(exc)) from None
    limit = _limit()
    after, before, cursor = _number("after"), _number("before"), _number("cursor", low=1)
    if after is not None and before is not None and after >= before:
        raise ProtocolError(400, "`after` must be earlier than `before`")
    peer_id = group_id = sender_id = None
    conversation = request.args.get("conversation", "").strip()
    if conversation:
        peer_id, group_id = await _conversation(user, conversation)
    sender = request.args.get("sender", "").strip()
    if sender:
        sender_id = await _sender(sender)
    page = await services().store.search_messages(
        SearchRequest(
            user_id=user.id, terms=terms, limit=limit, peer_id=peer_id, group_id=group_id,
            sender_id=sender_id, after_ms=after, before_ms=before, cursor=cursor,
        )
    )
    body: SearchPageJson = {
        "items": [hit_json(h, excerpt(terms, h.content)) for h in page.hits],
        "next": page.next,
    }
    return ok(body)
