"""A small Redis client native to Trio: RESP2 over one TCP stream, pipelined.

It knows just what the bus needs: send a batch of commands and read their
replies in one round trip, and read the pushes of a subscribed connection. A
dead server, a closed socket or a malformed reply all raise
:class:`RedisUnavailable`; an error reply to one command comes back as a
:class:`ReplyError` value in that command's place, not as an exception.

Why not redis.asyncio through trio-asyncio: on this project's test machine a
PING round trip took 1.56 ms through trio-asyncio, 0.26 ms with redis.asyncio
on plain asyncio and 0.11 ms with this client (docs/scaling.md, "Choosing the
client"); it also keeps a second event loop out of the process.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import trio

from chat_trio.errors import ChatTrioError

#: Seconds to connect, and for any one batch of commands to be answered.
IO_TIMEOUT = 5.0

Arg = bytes | str | int | float


@dataclass(frozen=True, slots=True)
class ReplyError:
    """Redis answered one command with an error (``-ERR ...``)."""

    message: str


Reply = bytes | int | None | ReplyError | list["Reply"]


class RedisUnavailable(ChatTrioError):
    """Redis cannot be reached, went away, or answered something that is not RESP."""


@dataclass(frozen=True, slots=True)
class RedisAddress:
    host: str
    port: int
    db: int
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> RedisAddress:
        """``redis://[[user]:password@]host[:port][/db]``. Raises ValueError."""
        parts = urlsplit(url)
        if parts.scheme != "redis":
            raise ValueError(f"not a redis:// URL: {url!r}")
        path = parts.path.strip("/")
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 6379,
            db=int(path) if path else 0,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


def encode(*args: Arg) -> bytes:
    """One command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, bytes):
            data = arg
        elif isinstance(arg, str):
            data = arg.encode()
        else:
            data = repr(arg).encode()
        out.append(b"$%d\r\n" % len(data))
        out.append(data)
        out.append(b"\r\n")
    return b"".join(out)


class RedisConnection:
    """One connection. Not for concurrent use: give each task its own."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self._stream = stream
        self._buffer = bytearray()
        self._start = 0

    @classmethod
    async def open(cls, address: RedisAddress) -> RedisConnection:
        """Connect, authenticate and select the database. Raises RedisUnavailable."""
        try:
            with trio.fail_after(IO_TIMEOUT):
                stream = await trio.open_tcp_stream(address.host, address.port)
        except (OSError, trio.TooSlowError) as exc:
            raise RedisUnavailable(
                f"cannot connect to {address.host}:{address.port}: {exc or 'timed out'}"
            ) from None
        connection = cls(stream)
        try:
            setup: list[tuple[Arg, ...]] = []
            if address.password is not None:
                if address.username:
                    setup.append(("AUTH", address.username, address.password))
                else:
                    setup.append(("AUTH", address.password))
            if address.db:
                setup.append(("SELECT", address.db))
            setup.append(("PING",))
            for reply in await connection.execute(*setup):
                if isinstance(reply, ReplyError):
                    raise RedisUnavailable(f"Redis refused the connection: {reply.message}")
        except BaseException:
            await connection.aclose()
            raise
        return connection

    async def aclose(self) -> None:
        with trio.move_on_after(1) as scope:
            scope.shield = True
            await self._stream.aclose()

    async def execute(self, *commands: tuple[Arg, ...]) -> list[Reply]:
        """Send ``commands`` in one write and return their replies, in order.

        Raises:
            RedisUnavailable: the connection failed or stayed silent for IO_TIMEOUT.
        """
        if not commands:
            return []
        try:
            with trio.fail_after(IO_TIMEOUT):
                await self._stream.send_all(b"".join(encode(*c) for c in commands))
                return [await self._read_reply() for _ in commands]
        except trio.TooSlowError:
            raise RedisUnavailable(f"no answer from Redis within {IO_TIMEOUT} s") from None
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise RedisUnavailable(f"connection to Redis lost: {exc}") from None

    async def send(self, *commands: tuple[Arg, ...]) -> None:
        """Send without reading the replies (a subscribed connection reads them as pushes)."""
        try:
            with trio.fail_after(IO_TIMEOUT):
                await self._stream.send_all(b"".join(encode(*c) for c in commands))
        except trio.TooSlowError:
            raise RedisUnavailable(f"Redis did not take a write within {IO_TIMEOUT} s") from None
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise RedisUnavailable(f"connection to Redis lost: {exc}") from None

    async def receive(self) -> Reply:
        """The next reply or push, however long it takes. Raises RedisUnavailable."""
        try:
            return await self._read_reply()
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise RedisUnavailable(f"connection to Redis lost: {exc}") from None

    async def _fill(self) -> None:
        if self._start:
            del self._buffer[: self._start]
            self._start = 0
        data = await self._stream.receive_some(65536)
        if not data:
            raise RedisUnavailable("Redis closed the connection")
        self._buffer += data

    async def _line(self) -> bytes:
        while True:
            end = self._buffer.find(b"\r\n", self._start)
            if end >= 0:
                line = bytes(self._buffer[self._start : end])
                self._start = end + 2
                return line
            await self._fill()

    async def _exactly(self, n: int) -> bytes:
        while len(self._buffer) - self._start < n + 2:
            await self._fill()
        data = bytes(self._buffer[self._start : self._start + n])
        self._start += n + 2
        return data

    async def _read_reply(self) -> Reply:
        line = await self._line()
        if not line:
            raise RedisUnavailable("empty line where a RESP reply was expected")
        kind, rest = line[:1], line[1:]
        try:
            if kind == b"+":
                return rest
            if kind == b"-":
                return ReplyError(rest.decode(errors="replace"))
            if kind == b":":
                return int(rest)
            if kind == b"$":
                size = int(rest)
                return None if size < 0 else await self._exactly(size)
            if kind == b"*":
                count = int(rest)
                return None if count < 0 else [await self._read_reply() for _ in range(count)]
        except ValueError:
            pass
        raise RedisUnavailable(f"not a RESP reply: {line[:40]!r}")
