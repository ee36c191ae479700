"""A small Trio client for chat-trio: log in, connect, send, receive decoded messages.

The tests use it, the benchmarks use it, and it is enough to script a bot::

    async with ChatClient("http://127.0.0.1:8888") as api:
        me = await api.login("bot", "bot-password")
        async with api.connect() as conn:
            await conn.send_text(friend_uuid, "hello")
            async for message in conn:
                print(message.fromUsername, message.content)

HTTP goes through httpx, the socket through trio-websocket. Every refusal of the
API raises ApiError with the HTTP status and the envelope's ``msg``.
"""

from __future__ import annotations

import uuid as uuid_lib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import trio
import trio_websocket

from chat_trio import codec
from chat_trio.errors import ChatTrioError
from chat_trio.model import ContentType, FrameType, MessageType

Message = codec.Message


class ApiError(ChatTrioError):
    """The server refused an HTTP request."""

    def __init__(self, status: int, msg: str, key: str = "") -> None:
        super().__init__(f"{status}: {msg}")
        self.status = status
        self.msg = msg
        #: The refusal's stable key (the envelope's ``key``; "" from older servers).
        self.key = key


@dataclass(frozen=True)
class Me:
    uuid: str
    username: str
    token: str
    user: dict[str, Any]


class ChatClient:
    """The HTTP API of one server, as one logged-in user (after ``login``)."""

    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout)
        self.me: Me | None = None

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call a route and return the envelope's ``data``. Raises: ApiError."""
        response = await self.http.request(method, path, **kwargs)
        try:
            body = response.json()
        except ValueError:
            raise ApiError(response.status_code, response.text[:200]) from None
        if response.status_code >= 400 or body.get("code") != 0:
            raise ApiError(response.status_code, str(body.get("msg")), str(body.get("key", "")))
        return body.get("data")

    async def register(self, username: str, password: str, **extra: str) -> dict[str, Any]:
        data: dict[str, Any] = await self.request(
            "POST", "/user/register", json={"username": username, "password": password, **extra}
        )
        return data

    async def login(self, username: str, password: str) -> Me:
        """Log in; later requests carry the token (and the cookie httpx keeps)."""
        data = await self.request(
            "POST", "/user/login", json={"username": username, "password": password}
        )
        self.me = Me(data["uuid"], data["username"], data["token"], data)
        self.http.headers["Authorization"] = f"Bearer {data['token']}"
        return self.me

    async def since(self, after: int = 0, *, page: int = 1000) -> list[dict[str, Any]]:
        """Catch up over HTTP: every message the caller can see after id ``after``, in
        id order, fetched a page at a time."""
        found: list[dict[str, Any]] = []
        while True:
            items: list[dict[str, Any]] = await self.request(
                "GET", "/message/since", params={"id": after, "limit": page}
            )
            found.extend(items)
            if len(items) < page:
                return found
            after = int(items[-1]["id"])

    async def signup(self, username: str, password: str) -> Me:
        """Register, then log in."""
        await self.register(username, password)
        return await self.login(username, password)

    def socket_url(
        self, *, token: str | None = None, user: str | None = None, features: str = ""
    ) -> str:
        parts = urlsplit(self.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        query = []
        me = self.me
        if user or me:
            query.append(f"user={quote(user or (me.uuid if me else ''))}")
        if token is None and me is not None:
            token = me.token
        if token:
            query.append(f"token={quote(token)}")
        if features:
            query.append(f"features={quote(features)}")
        return urlunsplit((scheme, parts.netloc, "/socket.io", "&".join(query), ""))

    @asynccontextmanager
    async def connect(
        self, *, token: str | None = None, user: str | None = None,
        max_message_size: int = 64 * 1024 * 1024,
        extra_headers: list[tuple[str, str]] | None = None,
        features: str = "",
    ) -> AsyncIterator[Connection]:
        """Open the WebSocket. Raises trio_websocket.ConnectionRejected when refused.

        The TCP stream is opened here rather than by ``open_websocket_url``, so
        that it is closed even when the server refuses the handshake (which
        trio-websocket 0.12 leaves open).
        """
        parts = urlsplit(self.socket_url(token=token, user=user, features=features))
        host = parts.hostname or "127.0.0.1"
        port = parts.port or (443 if parts.scheme == "wss" else 80)
        resource = f"{parts.path}?{parts.query}" if parts.query else parts.path
        stream = await trio.open_tcp_stream(host, port)
        try:
            async with trio.open_nursery() as nursery:
                ws = await trio_websocket.wrap_client_stream(
                    nursery, stream, parts.netloc, resource,
                    max_message_size=max_message_size,
                    extra_headers=[(k.encode(), v.encode()) for k, v in extra_headers or []],
                )
                try:
                    yield Connection(ws)
                finally:
                    with trio.move_on_after(5) as cleanup:
                        cleanup.shield = True
                        await ws.aclose()
        except BaseExceptionGroup as group:
            # A refused handshake surfaces from trio-websocket's reader task,
            # wrapped in the nursery's group: hand the caller the refusal itself.
            rejected = group.subgroup(trio_websocket.HandshakeError)
            if rejected is not None and rejected.exceptions == group.exceptions:
                raise _first_leaf(rejected) from None
            raise
        finally:
            await stream.aclose()


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    inner = group.exceptions[0]
    return _first_leaf(inner) if isinstance(inner, BaseExceptionGroup) else inner


#: Frame types :meth:`Connection.receive_chat` passes over ("presence" and "typing"
#: are chat_trio.presence.PRESENCE and chat_trio.intake.typing.TYPING).
_NOT_CHAT = frozenset({
    FrameType.HEARTBEAT, FrameType.ACK, FrameType.ERROR, "presence", "typing",
})


class Connection:
    """One open /socket.io connection."""

    def __init__(self, ws: trio_websocket.WebSocketConnection) -> None:
        self.ws = ws

    async def send(self, message: Message) -> None:
        await self.ws.send_message(codec.encode(message))

    async def send_raw(self, data: bytes | str) -> None:
        await self.ws.send_message(data)

    async def receive(self) -> Message:
        """The next frame, decoded. Raises trio_websocket.ConnectionClosed at the end."""
        return codec.decode(await self.ws.get_message())

    async def receive_chat(self) -> Message:
        """The next frame that is not a heartbeat pong, welcome, ack, error, presence
        or typing frame: a message, or a call frame."""
        while True:
            message = await self.receive()
            if message.type in _NOT_CHAT:
                continue
            if getattr(message, "from") == "System":
                continue
            return message

    def __aiter__(self) -> Connection:
        return self

    async def __anext__(self) -> Message:
        try:
            return await self.receive()
        except trio_websocket.ConnectionClosed:
            raise StopAsyncIteration from None

    async def send_text(
        self,
        to: str,
        content: str,
        *,
        group: bool = False,
        client_id: str | None = None,
    ) -> str:
        """Send a text message; returns its client id (acks carry it back)."""
        cid = client_id if client_id is not None else uuid_lib.uuid4().hex
        await self.send(
            Message(
                to=to,
                content=content,
                contentType=ContentType.TEXT,
                messageType=MessageType.GROUP if group else MessageType.USER,
                clientId=cid,
            )
        )
        return cid

    async def heartbeat(self) -> None:
        await self.send(Message(type=FrameType.HEARTBEAT, content="ping"))
