"""What every route shares: the JSON envelope, authentication, and JSON shapes.

go-chat answered every request with HTTP 200 and ``{"code", "msg", "data"}``;
chat-trio keeps the envelope and also sets a truthful status. A route refuses by
raising ProtocolError(status, reason); the app's error handler turns that into
``{"code": -1, "msg": reason, "data": null, "key": key}`` with that status (``key``
is the refusal's stable name, for clients that show it translated).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from typing import Any, TypedDict, cast

import trio
from quart import Response, current_app, jsonify, request

from chat_trio.auth import carried_token
from chat_trio.errors import ProtocolError, key_for_status
from chat_trio.model import Group, StoredMessage, User
from chat_trio.services import Services

EXTENSION_KEY = "chat_trio"


def services() -> Services:
    return cast(Services, current_app.extensions[EXTENSION_KEY])


def ok(data: object = None, status: int = 200) -> Response:
    response = jsonify({"code": 0, "msg": "SUCCESS", "data": data})
    response.status_code = status
    return response


def failure(status: int, reason: str, key: str | None = None) -> Response:
    response = jsonify(
        {"code": -1, "msg": reason, "data": None, "key": key or key_for_status(status)}
    )
    response.status_code = status
    return response


def request_token() -> str:
    """The login token of the current request, or "": ``Authorization: Bearer``, then
    the session cookie (``?token=`` is for the WebSocket handshake only, api/socket.py)."""
    cookies = ";".join(request.headers.getlist("Cookie"))
    return carried_token(request.headers.get("Authorization", ""), cookies)


async def current_user() -> User:
    """The authenticated user. Raises: ProtocolError 401."""
    user = await services().accounts.user_for_token(request_token())
    if user is None:
        raise ProtocolError(401, "not logged in", key="not_logged_in")
    return user


def require_self(user: User, uuid: str) -> None:
    """Refuse a request that names a user other than the caller (403)."""
    if uuid != user.uuid:
        raise ProtocolError(403, "you can only act as yourself", key="not_yourself")


async def read_body(limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes.

    The bytes are counted while they arrive: a chunked body (or one without a
    Content-Length) declares no size to check up front, and reading it whole
    first would buffer up to the app-wide upload limit. Raises: ProtocolError
    413, or 408 when the body does not arrive within the request's body timeout.
    Checkpoints: waits for the body.
    """
    too_large = ProtocolError(
        413, f"request body too large: limit is {limit} bytes", key="body_too_large"
    )
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    received = bytearray()
    timeout = math.inf if request.body_timeout is None else request.body_timeout
    with trio.move_on_after(timeout) as scope:
        async for chunk in request.body:
            received += chunk
            if len(received) > limit:
                raise too_large
    if scope.cancelled_caught:
        raise ProtocolError(408, "the request body did not arrive in time")
    return bytes(received)


async def json_body() -> dict[str, Any]:
    """The request's JSON object.

    Only ``Content-Type: application/json`` is read: a browser lets any page
    send ``text/plain`` (and form types) to another site without asking, so
    accepting those would let a form on another page post JSON as the visitor.
    Raises: ProtocolError 415 (another type), 413 (over ``maxBodyBytes``), 400.
    """
    if request.mimetype != "application/json":
        raise ProtocolError(
            415, "the body must be JSON, sent with Content-Type: application/json"
        )
    raw = await read_body(services().config.limits.max_body_bytes)
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ProtocolError(400, "the body must be a JSON object in UTF-8") from None
    if not isinstance(body, dict):
        raise ProtocolError(400, "the body must be a JSON object")
    return body


def text_field(
    body: Mapping[str, object], name: str, *, required: bool = False, max_length: int = 255
) -> str:
    value = body.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ProtocolError(400, f"`{name}` must be a string")
    value = value.strip() if name != "password" else value
    if required and not value:
        raise ProtocolError(400, f"`{name}` is required")
    if len(value) > max_length:
        raise ProtocolError(400, f"`{name}` is longer than {max_length} characters")
    if any(ord(c) < 32 for c in value):
        raise ProtocolError(400, f"`{name}` contains control characters")
    return value


def iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).isoformat(timespec="milliseconds")


class UserJson(TypedDict):
    """A user in the HTTP API (go-chat's shape)."""

    uuid: str
    username: str
    nickname: str
    #: "" unless the viewer is this user (see :func:`user_json_for`).
    email: str
    avatar: str
    #: The client language the user chose ("" follows the browser); like the
    #: email, shown only to the user themselves.
    language: str


class GroupJson(TypedDict):
    """A group in the HTTP API."""

    uuid: str
    groupId: int
    #: The owner's user id.
    userId: int
    #: ISO 8601, in milliseconds, UTC.
    createAt: str
    name: str
    notice: str


class MessageJson(TypedDict):
    """A stored message in the HTTP API (history and catch-up)."""

    id: int
    fromUserId: str
    toUserId: str
    content: str
    contentType: int
    messageType: int
    url: str
    #: ISO 8601, in milliseconds, UTC.
    createAt: str
    fromUsername: str
    toUsername: str
    avatar: str


def user_json(user: User) -> UserJson:
    """A user as their own account sees it (register, login, /user/me): with the email."""
    return {
        "uuid": user.uuid,
        "username": user.username,
        "nickname": user.nickname,
        "email": user.email,
        "avatar": user.avatar,
        "language": user.language,
    }


def user_json_for(viewer: User, user: User) -> UserJson:
    """``user`` as ``viewer`` may see them: the email only when it is their own.

    An address is private to its owner. The key stays, empty, because go-chat's
    client expects every user record to have it.
    """
    shown = user_json(user)
    if viewer.id != user.id:
        shown["email"] = ""
        shown["language"] = ""
    return shown


def group_json(group: Group) -> GroupJson:
    return {
        "uuid": group.uuid,
        "groupId": group.id,
        "userId": group.owner_id,
        "createAt": iso(group.created_at_ms),
        "name": group.name,
        "notice": group.notice,
    }


def message_json(m: StoredMessage) -> MessageJson:
    return {
        "id": m.id,
        "fromUserId": m.from_uuid,
        "toUserId": m.to_uuid,
        "content": m.content,
        "contentType": m.content_type,
        "messageType": m.message_type,
        "url": m.url,
        "createAt": iso(m.created_at_ms),
        "fromUsername": m.from_username,
        "toUsername": m.to_username,
        "avatar": m.avatar,
    }
