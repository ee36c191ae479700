"""/group routes: create, join, list a user's groups and a group's members."""

from __future__ import annotations

import uuid as uuid_lib

from quart import Blueprint, Response

from chat_trio.api.common import (
    current_user,
    group_json,
    json_body,
    ok,
    require_self,
    services,
    text_field,
    user_json_for,
)
from chat_trio.errors import Conflict, ProtocolError

blueprint = Blueprint("groups", __name__)


@blueprint.get("/group/<user_uuid>")
async def groups_of(user_uuid: str) -> Response:
    user = await current_user()
    require_self(user, user_uuid)
    return ok([group_json(g) for g in await services().store.groups_of(user.id)])


@blueprint.post("/group/<user_uuid>")
async def create_group(user_uuid: str) -> Response:
    user = await current_user()
    require_self(user, user_uuid)
    body = await json_body()
    name = text_field(body, "name", required=True, max_length=191)
    notice = text_field(body, "notice", max_length=1024)
    try:
        await services().store.create_group(
            user, uuid=str(uuid_lib.uuid4()), name=name, notice=notice
        )
    except Conflict:
        raise ProtocolError(409, "a group with that name exists", key="group_name_taken") from None
    return ok(None, status=201)


@blueprint.post("/group/join/<user_uuid>/<group_uuid>")
async def join_group(user_uuid: str, group_uuid: str) -> Response:
    user = await current_user()
    require_self(user, user_uuid)
    s = services()
    group = await s.store.group_by_uuid(group_uuid)
    if group is None:
        raise ProtocolError(404, "no such group", key="no_such_group")
    try:
        await s.store.join_group(group, user)
    except Conflict:
        raise ProtocolError(
            409, "you are already a member of this group", key="already_a_member"
        ) from None
    finally:
        s.directory.forget_group(group_uuid)
    return ok(None)


@blueprint.get("/group/user/<group_uuid>")
async def members(group_uuid: str) -> Response:
    user = await current_user()
    s = services()
    view = await s.directory.group(group_uuid)
    if view is None:
        raise ProtocolError(404, "no such group", key="no_such_group")
    if user.uuid not in view.member_uuids:
        raise ProtocolError(403, "you are not a member of this group", key="not_a_member")
    return ok([user_json_for(user, m) for m in await s.store.group_members(view.group.id)])
