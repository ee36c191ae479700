"""GET /presence: who among the caller's contacts is online, and when each was last seen.

Without arguments: the caller's presence audience (friends, and co-members in
groups of at most ``MAX_GROUP`` members: exactly the users whose live presence
frames the caller gets). With ``?group=<uuid>``: that group's members, of any
size, for a caller who is one. A client asks once after (re)connecting, then
applies the ``type: "presence"`` frames.
"""

from __future__ import annotations

from quart import Blueprint, Response, request

from chat_trio.api.common import current_user, ok, services
from chat_trio.errors import ProtocolError

blueprint = Blueprint("presence", __name__)


@blueprint.get("/presence")
async def presence() -> Response:
    user = await current_user()
    s = services()
    group_uuid = request.args.get("group", "").strip()
    if group_uuid:
        view = await s.directory.group(group_uuid)
        if view is None:
            raise ProtocolError(404, "no such group")
        if user.uuid not in view.member_uuids:
            raise ProtocolError(403, "you are not a member of this group")
        uuids = [m for m in view.members if m != user.uuid]
    else:
        uuids = await s.presence.store.audience(user.uuid, max_group=s.presence.max_group)
    seen = await s.presence.store.last_seen(uuids)
    return ok([
        {
            "uuid": uuid,
            "online": s.hub.is_online(uuid) or s.bus.nodes_elsewhere(uuid) > 0,
            "lastSeen": seen.get(uuid),
        }
        for uuid in uuids
    ])
