"""/socket.io: the WebSocket, authenticated before it is accepted.

The handshake must carry a login token (cookie, ``Authorization: Bearer`` or
``?token=``); go-chat's ``?user=<uuid>`` is kept for old clients but must name
the token's own user. Refusals are plain HTTP answers with the JSON envelope
(401, 403), before any upgrade.
"""

from __future__ import annotations

import contextlib
from typing import Any, cast

import trio
from quart import Blueprint, Response, websocket

from chat_trio.api.common import failure, request_token, services
from chat_trio.api.security import origin_allowed
from chat_trio.session import Session, TransportClosed

blueprint = Blueprint("socket", __name__)


class QuartTransport:
    """The session Transport over Quart's websocket object."""

    def __init__(self, ws: Any) -> None:
        self._ws = ws

    async def receive(self) -> bytes | str:
        try:
            data: bytes | str = await self._ws.receive()
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise TransportClosed from exc
        return data

    async def send(self, data: bytes) -> None:
        try:
            await self._ws.send(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise TransportClosed from exc

    async def close(self, code: int, reason: str) -> None:
        with contextlib.suppress(
            trio.BrokenResourceError, trio.ClosedResourceError, RuntimeError
        ):
            await self._ws.close(code, reason)


@blueprint.websocket("/socket.io")
async def socket_io() -> Response | None:
    s = services()
    origin = websocket.headers.get("Origin", "")
    if not origin_allowed(origin, websocket.host, s.config.server.allowed_origins):
        return failure(403, "this origin may not open the chat socket")
    user = await s.accounts.user_for_token(request_token(allow_query=True))
    if user is None:
        return failure(401, "not logged in: log in and pass the token")
    claimed = websocket.args.get("user", "")
    if claimed and claimed != user.uuid:
        return failure(403, "`user` does not match the logged-in user")
    if s.hub.session_count(user.uuid) >= s.config.limits.sessions_per_user:
        return failure(429, "too many open sessions for this user")
    s.directory.remember(user)
    await websocket.accept()
    session = Session(
        user,
        # The proxy's object itself, so the writer task can use it too.
        QuartTransport(cast(Any, websocket)._get_current_object()),
        hub_inbox=s.hub.inbox,
        handle_frame=s.intake.handle,
        outbox_frames=s.config.limits.outbox_frames,
    )
    await session.run()
    return None
