"""Friends: requests (send, accept, decline, cancel), ending a friendship, and
go-chat's ``POST /friend``.

A friendship needs both users' consent: one asks, the other accepts. Each
change is stored first, then pushed to both users' sessions
(api/friend_push.py). ``POST /friend``, go-chat's "add friend", now sends a
request, or accepts the one the other user already sent: two go-chat clients
become friends when each adds the other, and nobody can be made someone's
friend without asking (docs/protocol.md, Friends, says why).

Refusals: 400 for yourself, 404 for an unknown user or a request that does
not exist, 403 for a request of the other side (accepting your own request,
cancelling one you received) and between users one of whom blocked the
other, 409 for what is already so, 429 past REQUESTS_PER_MINUTE new requests
of one user (on one node), so that nobody can ask the whole directory.
"""

from __future__ import annotations

import math

import trio
from quart import Blueprint, Response, current_app

from chat_trio.api.common import (
    UserJson,
    current_user,
    iso,
    json_body,
    ok,
    require_self,
    services,
    text_field,
    user_json_for,
)
from chat_trio.api.friend_push import FriendEvent, push
from chat_trio.errors import ProtocolError
from chat_trio.model import User
from chat_trio.ratelimit import KeyedBuckets, TokenBucket
from chat_trio.services import Services
from chat_trio.storage import AnswerOutcome, PendingRequest, RequestOutcome

blueprint = Blueprint("friends", __name__)

#: New friend requests one user may send per minute (per node): asking back,
#: which accepts, and refused attempts do not count.
REQUESTS_PER_MINUTE = 20
_BUCKETS_KEY = "chat_trio.friend_requests"


def _request_bucket(me: User) -> TokenBucket:
    buckets: KeyedBuckets = current_app.extensions.setdefault(
        _BUCKETS_KEY, KeyedBuckets(REQUESTS_PER_MINUTE / 60, REQUESTS_PER_MINUTE)
    )
    return buckets.bucket(me.uuid, trio.current_time())


def _too_many(bucket: TokenBucket) -> ProtocolError:
    wait = math.ceil(bucket.retry_after(trio.current_time()))
    return ProtocolError(
        429,
        f"too many friend requests: at most {REQUESTS_PER_MINUTE} a minute; "
        f"try again in {wait} s",
        retry_after=wait,
    )


async def other_user(s: Services, me: User, uuid: str, what: str) -> User:
    """The user ``uuid`` names, who is not ``me``. Raises: ProtocolError 404, 400."""
    other = await s.directory.user(uuid) if uuid else None
    if other is None:
        raise ProtocolError(404, "no such user")
    if other.id == me.id:
        raise ProtocolError(400, f"you cannot {what} yourself")
    return other


async def _ask(s: Services, me: User, other: User) -> str:
    """Send ``me``'s request to ``other`` (or accept theirs); "requested" or "friends"."""
    bucket = _request_bucket(me)
    if not bucket.take(trio.current_time()):
        # Out of new requests, but asking back (accepting) is no new request.
        if await s.store.accept_request(me.id, other.id) != "done":
            raise _too_many(bucket)
        outcome: RequestOutcome = "accepted"
    else:
        try:
            outcome = await s.store.request_friend(me.id, other.id)
        except BaseException:
            bucket.refund(trio.current_time())
            raise
        if outcome != "requested":  # only a new request counts
            bucket.refund(trio.current_time())
    if outcome == "requested":
        await push(s, FriendEvent.REQUEST, actor=me, other=other)
        return "requested"
    if outcome == "accepted":
        await push(s, FriendEvent.ACCEPT, actor=me, other=other)
        return "friends"
    raise {
        "friends": ProtocolError(409, "you are already friends"),
        "pending": ProtocolError(409, "you already sent this user a friend request"),
        "blocked": ProtocolError(403, "you blocked this user; unblock them first"),
        "blocked_by": ProtocolError(403, "this user does not accept friend requests from you"),
    }[outcome]


@blueprint.post("/friend")
async def add_friend() -> Response:
    """go-chat's add friend: a request, or the acceptance of theirs. Answers null."""
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
    await _ask(s, user, friend)
    return ok(None)


def _pending_json(viewer: User, pending: PendingRequest) -> dict[str, object]:
    return {"user": user_json_for(viewer, pending.user), "createAt": iso(pending.created_at_ms)}


@blueprint.get("/friend/requests")
async def pending_requests() -> Response:
    """The caller's pending requests: received (``incoming``) and sent (``outgoing``)."""
    me = await current_user()
    incoming, outgoing = await services().store.pending_requests(me.id)
    return ok({
        "incoming": [_pending_json(me, p) for p in incoming],
        "outgoing": [_pending_json(me, p) for p in outgoing],
    })


@blueprint.post("/friend/requests")
async def send_request() -> Response:
    """Ask a user (by ``uuid``, or ``username``) to be friends."""
    me = await current_user()
    body = await json_body()
    s = services()
    uuid = text_field(body, "uuid", max_length=64)
    username = text_field(body, "username", max_length=64)
    if not uuid and not username:
        raise ProtocolError(400, "`uuid` or `username` is required")
    if not uuid:
        found = await s.store.user_by_username(username)
        uuid = found.uuid if found is not None else ""
    other = await other_user(s, me, uuid, "send a friend request to")
    status = await _ask(s, me, other)
    return ok(_status_json(me, other, status), status=201 if status == "requested" else 200)


def _status_json(me: User, other: User, status: str) -> dict[str, object]:
    user: UserJson = user_json_for(me, other)
    return {"status": status, "user": user}


def _answered(outcome: AnswerOutcome, *, none: str, wrong_side: str) -> None:
    if outcome == "none":
        raise ProtocolError(404, none)
    if outcome == "wrong_side":
        raise ProtocolError(403, wrong_side)


@blueprint.post("/friend/requests/<uuid>/accept")
async def accept_request(uuid: str) -> Response:
    """Accept the request the user ``uuid`` sent the caller: both become friends."""
    me = await current_user()
    s = services()
    other = await other_user(s, me, uuid, "accept a friend request from")
    _answered(
        await s.store.accept_request(me.id, other.id),
        none="this user has not sent you a friend request",
        wrong_side="you sent this request; only the other user can accept it",
    )
    await push(s, FriendEvent.ACCEPT, actor=me, other=other)
    return ok(_status_json(me, other, "friends"))


@blueprint.post("/friend/requests/<uuid>/decline")
async def decline_request(uuid: str) -> Response:
    """Decline the request the user ``uuid`` sent the caller (they may ask again)."""
    me = await current_user()
    s = services()
    other = await other_user(s, me, uuid, "decline a friend request from")
    _answered(
        await s.store.decline_request(me.id, other.id),
        none="this user has not sent you a friend request",
        wrong_side="you sent this request; cancel it instead",
    )
    await push(s, FriendEvent.DECLINE, actor=me, other=other)
    return ok(_status_json(me, other, "none"))


@blueprint.delete("/friend/requests/<uuid>")
async def cancel_request(uuid: str) -> Response:
    """Withdraw the caller's request to the user ``uuid``."""
    me = await current_user()
    s = services()
    other = await other_user(s, me, uuid, "cancel a friend request to")
    _answered(
        await s.store.cancel_request(me.id, other.id),
        none="you have not sent this user a friend request",
        wrong_side="this request was sent to you; decline it instead",
    )
    await push(s, FriendEvent.CANCEL, actor=me, other=other)
    return ok(_status_json(me, other, "none"))


@blueprint.delete("/friend/<uuid>")
async def remove_friend(uuid: str) -> Response:
    """End the friendship with the user ``uuid``, on both sides."""
    me = await current_user()
    s = services()
    other = await other_user(s, me, uuid, "unfriend")
    if not await s.store.remove_friend(me.id, other.id):
        raise ProtocolError(404, "you are not friends with this user")
    await push(s, FriendEvent.REMOVE, actor=me, other=other)
    return ok(_status_json(me, other, "none"))
