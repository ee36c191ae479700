"""Limits in bytes on the WebSocket path: fragments, the flood budget, large decodes.

A real server on 127.0.0.1, port 0. The client side is written by hand where
the test needs frames trio-websocket never sends (fragments, announced sizes).
Each test is bounded with ``trio.fail_after`` (a hang guard, never a speed check).
"""

from __future__ import annotations

import base64
import binascii
import struct

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from chat_trio.client import Message
from chat_trio.config import Config
from chat_trio.errors import ConfigError, ProtocolError
from chat_trio.intake import content
from chat_trio.model import ContentType, FrameType
from chat_trio.transport import frames
from tests.conftest import MakeUser, Server, User
from tests.test_http_api import PNG
from tests.test_socket import next_of_type, welcome
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


@given(
    text=st.text(alphabet="AQgw+/=-é \n", max_size=40) | st.binary(max_size=30).map(
        lambda b: base64.b64encode(b).decode()
    ),
    step=st.sampled_from([4, 8, 12]),
)
def test_stepwise_base64_decodes_like_b64decode_strict(text: str, step: int) -> None:
    try:
        expected: bytes | None = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        expected = None
    if expected is None:
        with pytest.raises(ProtocolError):
            content.decode_base64(text, step=step)
    else:
        assert content.decode_base64(text, step=step) == expected
        assert content.decode_base64("xx," + text, 3, step=step) == expected


async def test_a_large_data_url_is_decoded_off_the_event_loop() -> None:
    """Other tasks run while it is decoded (it waits on a worker thread)."""
    data = bytes(range(256)) * 2048  # 512 KiB: above DECODE_IN_THREAD_CHARS once encoded
    url = "data:image/png;base64," + base64.b64encode(data).decode()
    assert len(url) > content.DECODE_IN_THREAD_CHARS
    others_ran = trio.Event()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_set, others_ran)
            assert await content.decode_data_url(url, 1 << 20) == data
            assert others_ran.is_set()
    with pytest.raises(ProtocolError) as refused:
        await content.decode_data_url(url, len(data) // 2)  # told from the length alone
    assert refused.value.code == 413


async def _set(event: trio.Event) -> None:
    event.set()


@pytest.mark.parametrize(
    "server_limits", [{"messages_per_second": 0.001, "message_burst": 20}]
)
async def test_large_frames_cost_more_of_the_flood_budget(
    server: Server, make_user: MakeUser
) -> None:
    """A 1.5 MiB file costs 1 + 6 tokens, a data URL of 2 MiB 1 + 8: after two files,
    6 of 20 are left and the data URL is refused with 429 before it is decoded or
    saved. (At one token a frame, all three would pass.)"""
    a, b = await make_user(), await make_user()
    big = PNG + bytes(1536 * 1024)
    url = "data:image/png;base64," + base64.b64encode(big).decode()
    with trio.fail_after(30):
        async with a.api.connect() as ca:
            await welcome(ca)
            for i in range(2):
                await ca.send(Message(to=b.uuid, contentType=3, messageType=1, file=big,
                                      clientId=f"f{i}"))
                assert (await next_of_type(ca, FrameType.ACK)).clientId == f"f{i}"
            await ca.send(Message(to=b.uuid, contentType=ContentType.FILE, messageType=1,
                                  content=url, clientId="f2"))
            refused = await next_of_type(ca, FrameType.ERROR)
            assert (refused.code, refused.clientId) == (429, "f2")
            await ca.send_text(b.uuid, "small frames still pass", client_id="t")
            assert (await next_of_type(ca, FrameType.ACK)).clientId == "t"
    saved = list((server.tmp_path / "files").rglob("*.*"))
    assert len(saved) == 2, saved
