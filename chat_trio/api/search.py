"""``GET /search``: people and groups whose names contain the query, ranked.

Users match by username or nickname, groups by name (storage/search.py ranks:
exact, then prefix, then substring). Each user comes with how the caller
stands with them (``relation``), each group with whether the caller is a
member, so a client can show "Add", "Accept", "Requested" or "Open" without
asking again. The caller is never among the users.
"""

from __future__ import annotations

from quart import Blueprint, Response, request

from chat_trio.api.common import current_user, group_json, ok, services, user_json_for
from chat_trio.errors import ProtocolError

blueprint = Blueprint("search", __name__)

#: Results per kind when the request names no ``limit``, and the most it may name.
DEFAULT_LIMIT = 20
MAX_LIMIT = 50
#: The longest query: longer than any name (64 characters).
MAX_QUERY = 64


def search_query(name: str = "q") -> str:
    """The query parameter ``name``, trimmed. Raises: ProtocolError 400."""
    query = request.args.get(name, "").strip()
    if not query:
        raise ProtocolError(400, f"`{name}` is required")
    if len(query) > MAX_QUERY:
        raise ProtocolError(400, f"`{name}` is longer than {MAX_QUERY} characters")
    if any(ord(c) < 32 for c in query):
        raise ProtocolError(400, f"`{name}` contains control characters")
    return query


def _limit() -> int:
    raw = request.args.get("limit", "")
    if not raw:
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise ProtocolError(400, "`limit` must be an integer") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise ProtocolError(400, f"`limit` must be between 1 and {MAX_LIMIT}")
    return limit


@blueprint.get("/search")
async def search() -> Response:
    me = await current_user()
    query, limit = search_query(), _limit()
    s = services()
    users = [u for u in await s.store.search_users(query, limit=limit + 1) if u.id != me.id]
    groups = await s.store.search_groups(query, limit=limit)
    relations = await s.store.relations(me.id) if users else {}
    mine = {g.id for g in await s.store.groups_of(me.id)} if groups else set()
    return ok({
        "users": [
            {**user_json_for(me, u), "relation": relations.get(u.id, "none")}
            for u in users[:limit]
        ],
        "groups": [{**group_json(g), "member": g.id in mine} for g in groups],
    })
