"""/socket.io: the WebSocket, authenticated before it is accepted.

The front door (transport/frontdoor.py) hands this endpoint every request for
``/socket.io`` (or ``/socket.io/``) that asks for a WebSocket upgrade, whether it
is a connection's first request or a later one on a kept-alive connection, with
the connection's own socket. The handshake must carry a login token (``Authorization: Bearer``, the
session cookie, or ``?token=``, looked for in that order, as every HTTP route
does plus the query); go-chat's ``?user=<uuid>`` is kept for old clients but
must name the token's own user. A browser's handshake must come from an allowed
Origin (api/security.py), and a user holds at most ``[limits] sessionsPerUser``
sessions on this node (a slot is reserved at the check, so concurrent handshakes
cannot overshoot it). Refusals are plain HTTP answers with the JSON envelope
(400, 401, 403, 426, 429, 503), before any upgrade. An accepted connection
becomes a :class:`~chat_trio.transport.WebSocket` and runs one Session, which
closes with 1008 when its login is revoked (logout, password change, on any
node) or expires.
"""

from __future__ import annotations

import logging
import socket

import trio

from chat_trio import features
from chat_trio.api.client_address import handshake_address, trusted_proxies
from chat_trio.api.security import origin_allowed
from chat_trio.auth import CheckedToken, LoginWatch, carried_token
from chat_trio.errors import ProtocolError, StorageError
from chat_trio.services import Services
from chat_trio.session import CLOSE_GOING_AWAY, CLOSE_POLICY, CLOSE_TRY_AGAIN_LATER, Session
from chat_trio.transport.frames import FrameCache
from chat_trio.transport.frontdoor import HEAD_TIMEOUT_SECONDS, refuse, send_all
from chat_trio.transport.handshake import RequestHead, accept_response, upgrade_problem
from chat_trio.transport.websocket import WebSocket

log = logging.getLogger(__name__)

PATH = "/socket.io"
#: The paths the endpoint answers on: go-chat's, and the same with a trailing slash.
PATHS = (PATH, PATH + "/")


def _close(sock: socket.socket) -> None:
    if sock.fileno() >= 0:
        trio.lowlevel.notify_closing(sock)
        sock.close()


class SocketEndpoint:
    """The front door's upgrade handler: authenticates, accepts, runs the session."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._sessions: set[Session] = set()
        self._shutting_down = False
        #: Session slots held per user uuid: taken at the handshake's check, given
        #: back exactly once when the handshake fails or the session ends.
        self._slots: dict[str, int] = {}
        self._proxies = trusted_proxies(services.config.server.trusted_proxies)
        #: Shared by every session's WebSocket: a fan-out frames its payload once.
        self._frame_cache = FrameCache()

    def wants(self, request: RequestHead) -> bool:
        return request.path in PATHS and request.wants_websocket

    async def handle(self, sock: socket.socket, request: RequestHead, buffered: bytes) -> None:
        s = self._services
        try:
            checked = await self._admit(sock, request)
        except BaseException:
            _close(sock)
            raise
        if checked is None:
            return  # refused, and the socket is closed
        user = checked.user
        try:
            # Watched from right after the token check: a logout, a password change
            # or the token's expiry ends this session.
            with s.accounts.live.watch(user.id, checked.token_hash) as watch:
                try:
                    with trio.fail_after(HEAD_TIMEOUT_SECONDS):
                        await send_all(sock, accept_response(request))
                except (OSError, trio.TooSlowError):
                    _close(sock)
                    return
                except BaseException:
                    _close(sock)
                    raise
                address = handshake_address(sock, request, self._proxies)
                wanted = features.parse(request.arg("features"))
                del request  # a session may last for days: keep no copy of its head
                await self._run_session(sock, address, buffered, checked, watch, wanted)
        finally:
            self._release(user.uuid)

    async def _admit(self, sock: socket.socket, request: RequestHead) -> CheckedToken | None:
        """Check the handshake and reserve one of the user's session slots.

        Returns the checked token (the slot is then the caller's to release), or
        None after refusing the handshake and closing ``sock``. Returns with no
        checkpoint after the token check, so the caller can start watching it.
        """
        s = self._services
        problem = upgrade_problem(request)
        if problem:
            status = 426 if "Version" in problem else 400
            await refuse(sock, status, problem, "Sec-WebSocket-Version: 13")
            return None
        origin = request.header("origin")
        if not origin_allowed(origin, request.header("host"), s.config.server.allowed_origins):
            await refuse(sock, 403, "this origin may not open the chat socket")
            return None
        token = carried_token(
            request.header("authorization"), request.header("cookie"), request.arg("token")
        )
        try:
            checked = await s.accounts.check_session_token(token)
        except StorageError as exc:
            log.error("storage error during a handshake: %s", exc)
            await refuse(sock, 503, "the database is not available; try again")
            return None
        except ProtocolError as refused:
            await refuse(sock, refused.code, refused.reason)
            return None
        if checked is None:
            await refuse(sock, 401, "not logged in: log in and pass the token")
            return None
        claimed = request.arg("user")
        if claimed and claimed != checked.user.uuid:
            await refuse(sock, 403, "`user` does not match the logged-in user")
            return None
        if self._shutting_down:
            await refuse(sock, 503, "the server is shutting down")
            return None
        if not self._reserve(checked.user.uuid):
            await refuse(sock, 429, "too many open sessions for this user")
            return None
        return checked

    def _reserve(self, user_uuid: str) -> bool:
        """Take one of the user's ``sessionsPerUser`` slots, if one is free. Synchronous,
        so concurrent handshakes cannot all see the same free slot."""
        held = self._slots.get(user_uuid, 0)
        if held >= self._services.config.limits.sessions_per_user:
            return False
        self._slots[user_uuid] = held + 1
        return True

    def _release(self, user_uuid: str) -> None:
        held = self._slots[user_uuid] - 1
        if held:
            self._slots[user_uuid] = held
        else:
            del self._slots[user_uuid]

    async def _run_session(
        self, sock: socket.socket, address: str, buffered: bytes,
        checked: CheckedToken, watch: LoginWatch, wanted: frozenset[str],
    ) -> None:
        s = self._services
        ws = WebSocket(
            sock,
            max_message_bytes=s.config.limits.max_frame_bytes,
            max_backlog_frames=s.config.limits.outbox_frames,
            max_backlog_bytes=s.config.limits.outbox_bytes,
            frame_cache=self._frame_cache,
            max_fragments=s.config.limits.max_fragments,
            buffered=buffered,
        )
        session = Session(
            checked.user, ws, hub_inbox=s.hub.inbox, handle_frame=s.intake.handle,
            idle_timeout=s.config.limits.idle_timeout,
            # The session's own deadline closes it (1008) when its token expires.
            login_expires_at=trio.current_time() + checked.seconds_left(),
            features=wanted,
        )

        def login_ended(reason: str) -> None:
            log.info("%r: closing, %s", session, reason)
            session.close(CLOSE_POLICY, reason)

        watch.on_end = login_ended
        if watch.ended:  # revoked between the token check and now
            login_ended(watch.reason)
        log.info("%r: from %s", session, address)
        self._sessions.add(session)
        try:
            await session.run()
        finally:
            self._sessions.discard(session)
            if session.close_code == CLOSE_TRY_AGAIN_LATER:
                s.metrics.slow_consumer_disconnects.inc()
            await ws.aclose()

    async def drain(self) -> None:
        """The graceful part of shutting down: every session stops reading, everything
        already read is stored and acked (the store writer and the hub are flushed
        behind it), then the sessions close with 1001. The caller bounds the wait."""
        self._shutting_down = True
        sessions = list(self._sessions)
        for session in sessions:
            session.stop_reading()
        for session in sessions:
            await session.reading_done.wait()
        await self._services.writer.flush()
        self.shutdown()

    def shutdown(self) -> None:
        self._shutting_down = True
        for session in list(self._sessions):
            session.close(CLOSE_GOING_AWAY, "server shutting down")
