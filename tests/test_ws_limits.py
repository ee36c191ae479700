"""The WebSocket's byte and fragment limits, end to end over raw TCP.

A real server on 127.0.0.1, port 0. The client side is written by hand where
the test needs frames trio-websocket never sends (fragments, announced sizes).
Each test is bounded with ``trio.fail_after`` (a hang guard, never a speed check).
"""

from __future__ import annotations

import struct

import pytest
import trio

from chat_trio.config import Config
from chat_trio.errors import ConfigError
from chat_trio.transport import frames
from tests.conftest import MakeUser, Server, User
from tests.test_transport_frames import client_frame

KEY = "dGhlIHNhbXBsZSBub25jZQ=="


@pytest.fixture
def server_limits() -> dict[str, object]:
    return {"max_fragments": 8, "messages_per_second": 10_000.0, "message_burst": 10_000}


class RawSocket:
    """A hand-driven client end of /socket.io: frames in, frames out, nothing hidden."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.data = bytearray()

    @classmethod
    async def open(cls, server: Server, user: User) -> RawSocket:
        host, port = server.url.split("://")[1].split(":")
        stream = await trio.open_tcp_stream(host, int(port))
        await stream.send_all(
            f"GET /socket.io?token={user.me.token} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Key: {KEY}\r\n\r\n".encode()
        )
        raw = cls(stream)
        while b"\r\n\r\n" not in raw.data:
            raw.data += await raw.receive_some()
        head, _, rest = bytes(raw.data).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        raw.data = bytearray(rest)
        return raw

    async def receive_some(self) -> bytes:
        chunk = await self.stream.receive_some()
        if not chunk:
            raise EOFError
        return chunk

    async def frame(self) -> tuple[int, bytes]:
        """The next server frame (opcode, payload)."""
        while True:
            data = self.data
            if len(data) >= 2:
                n, pos = data[1] & 0x7F, 2
                if n == 126 and len(data) >= 4:
                    n, pos = struct.unpack_from("!H", data, 2)[0], 4
                elif n == 127 and len(data) >= 10:
                    n, pos = struct.unpack_from("!Q", data, 2)[0], 10
                if (n < 126 or pos > 2) and len(data) >= pos + n:
                    item = (data[0] & 0x0F, bytes(data[pos : pos + n]))
                    del data[: pos + n]
                    return item
            self.data += await self.receive_some()

    async def close_code(self) -> int:
        """Read frames until the server's close frame; its code."""
        while True:
            opcode, payload = await self.frame()
            if opcode == frames.OP_CLOSE:
                return int(struct.unpack_from("!H", payload)[0])


async def test_a_message_in_too_many_fragments_closes_with_1009(
    server: Server, make_user: MakeUser
) -> None:
    user = await make_user()
    with trio.fail_after(10):
        raw = await RawSocket.open(server, user)
        async with raw.stream:
            await raw.frame()  # welcome
            wire = client_frame(frames.OP_BINARY, b"", fin=False)
            wire += client_frame(frames.OP_CONTINUATION, b"", fin=False) * 8  # the 9th is refused
            await raw.stream.send_all(wire)
            assert await raw.close_code() == 1009


def test_the_outbox_must_hold_the_largest_relayed_frame() -> None:
    with pytest.raises(ConfigError, match="outboxBytes: must be at least maxMediaFrameBytes"):
        Config().replace("limits", outbox_bytes=512 * 1024)
    Config().replace("limits", outbox_bytes=512 * 1024, max_media_frame_bytes=256 * 1024)
