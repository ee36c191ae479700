"""/user routes: register, log in and out, profiles, friends list, find by name."""

from __future__ import annotations

import re
import uuid as uuid_lib

from quart import Blueprint, Response, request

from chat_trio.api.client_address import request_address
from chat_trio.api.common import (
    current_user,
    group_json,
    json_body,
    ok,
    request_token,
    require_self,
    services,
    text_field,
    user_json,
    user_json_for,
)
from chat_trio.api.search import MAX_QUERY
from chat_trio.auth import COOKIE_NAME
from chat_trio.errors import Conflict, ProtocolError
from chat_trio.languages import check_language

blueprint = Blueprint("users", __name__)

USERNAME = re.compile(r"^[\w.\-@]{1,64}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024


def _check_username(username: str) -> str:
    if not USERNAME.match(username):
        raise ProtocolError(
            400, "`username` must be 1-64 letters, digits or the characters . _ - @",
            key="invalid_username",
        )
    return username


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ProtocolError(
            400, f"`password` must have at least {MIN_PASSWORD} characters",
            key="password_too_short",
        )
    return password


@blueprint.post("/user/register")
async def register() -> Response:
    body = await json_body()
    username = _check_username(text_field(body, "username", required=True, max_length=64))
    password = _check_password(text_field(body, "password", required=True, max_length=MAX_PASSWORD))
    nickname = text_field(body, "nickname") or username
    email = text_field(body, "email")
    s = services()
    s.accounts.charge_registration(request_address())
    password_hash = await s.accounts.hash_password(password)
    try:
        user = await s.store.create_user(
            uuid=str(uuid_lib.uuid4()),
            username=username,
            password_hash=password_hash,
            nickname=nickname,
            email=email,
        )
    except Conflict:
        raise ProtocolError(409, "that username is taken", key="username_taken") from None
    s.directory.remember(user)
    return ok(user_json(user), status=201)


@blueprint.post("/user/login")
async def login() -> Response:
    body = await json_body()
    username = text_field(body, "username", required=True, max_length=64)
    password = text_field(body, "password", required=True, max_length=MAX_PASSWORD)
    s = services()
    session = await s.accounts.login(username, password, request_address())
    response = ok({**user_json(session.user), "token": session.token})
    response.set_cookie(
        COOKIE_NAME,
        session.token,
        max_age=int(s.config.auth.token_ttl),
        httponly=True,
        samesite="Lax",
        secure=s.config.auth.cookie_secure,
        path="/",
    )
    return response


@blueprint.post("/user/logout")
async def logout() -> Response:
    token = request_token()
    if token:
        await services().accounts.logout(token)
    response = ok(None)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


@blueprint.get("/user/me")
async def me() -> Response:
    return ok(user_json(await current_user()))


@blueprint.put("/user")
async def update_user() -> Response:
    user = await current_user()
    body = await json_body()
    username = text_field(body, "username") or user.username
    if username != user.username:
        raise ProtocolError(403, "you can only change your own profile", key="not_yourself")
    nickname = text_field(body, "nickname") or user.nickname
    email = text_field(body, "email")
    password = text_field(body, "password", max_length=MAX_PASSWORD)
    s = services()
    new_hash = None
    if password:
        _check_password(password)
        # A stolen token (or an unlocked screen) must not be enough to take the
        # account: the current password is required, and guessing it counts as
        # failed logins.
        old_password = body.get("oldPassword") or ""
        if not isinstance(old_password, str) or len(old_password) > MAX_PASSWORD:
            raise ProtocolError(400, f"`oldPassword` must be a string of at most {MAX_PASSWORD}")
        if not old_password:
            raise ProtocolError(
                400, "`oldPassword` is required to change the password",
                key="old_password_required",
            )
        await s.accounts.confirm_password(user, old_password, request_address())
        new_hash = await s.accounts.hash_password(password)
    # Absent: unchanged (go-chat's clients do not know the field).
    language = check_language(body["language"]) if "language" in body else None
    await s.store.update_user(user.id, nickname=nickname, email=email, password_hash=new_hash)
    if language is not None and language != user.language:
        await s.store.set_language(user.id, language)
    if new_hash is not None:
        # A new password ends every other login of this user.
        await s.accounts.revoke_other_logins(user, request_token())
    await s.directory.profile_changed(user.uuid)
    return ok(None)


@blueprint.get("/user/name")
async def find_by_name() -> Response:
    viewer = await current_user()
    name = request.args.get("name", "").strip()
    if not name:
        raise ProtocolError(400, "`name` is required")
    s = services()
    user = await s.store.user_by_username(name)
    group = await s.store.group_by_name(name)
    # No exact name: the best-ranked partial match (GET /search has them all), so
    # go-chat's client, which shows one user and one group, finds people by part
    # of a name too. Still empty objects when nothing matches at all.
    if user is None and len(name) <= MAX_QUERY:
        user = next((u for u in await s.store.search_users(name, limit=2) if u.id != viewer.id),
                    None)
    if group is None and len(name) <= MAX_QUERY:
        group = next(iter(await s.store.search_groups(name, limit=1)), None)
    empty_user = {
        "uuid": "", "username": "", "nickname": "", "email": "", "avatar": "", "language": ""
    }
    empty_group = {"uuid": "", "groupId": 0, "userId": 0, "createAt": "", "name": "", "notice": ""}
    return ok(
        {
            "user": user_json_for(viewer, user) if user else empty_user,
            "group": group_json(group) if group else empty_group,
        }
    )


@blueprint.get("/user/online")
async def online() -> Response:
    """Whether a user has a live session, and on how many nodes."""
    await current_user()
    uuid = request.args.get("uuid", "").strip()
    if not uuid:
        raise ProtocolError(400, "`uuid` is required")
    s = services()
    nodes = int(s.hub.is_online(uuid)) + s.bus.nodes_elsewhere(uuid)
    return ok({"uuid": uuid, "online": nodes > 0, "nodes": nodes})


@blueprint.get("/user/<uuid>")
async def user_details(uuid: str) -> Response:
    viewer = await current_user()
    found = await services().directory.user(uuid)
    if found is None:
        raise ProtocolError(404, "no such user", key="no_such_user")
    return ok(user_json_for(viewer, found))


@blueprint.get("/user")
async def friends() -> Response:
    user = await current_user()
    require_self(user, request.args.get("uuid", user.uuid))
    return ok([user_json_for(user, f) for f in await services().store.friends(user.id)])
