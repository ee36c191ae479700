"""Frame reading's last refusals: a reserved control opcode, a 64-bit length with
its top bit set, and a close reason that is not UTF-8."""

from __future__ import annotations

import struct

import pytest

from chat_trio.transport import frames
from chat_trio.transport.frames import FrameError, FrameReader
from tests.test_transport_frames import client_frame


@pytest.mark.parametrize("opcode", [0xB, 0xF])
def test_a_reserved_control_opcode_is_a_protocol_error(opcode: int) -> None:
    reader = FrameReader(100)
    reader.feed(client_frame(opcode, b"x"))
    with pytest.raises(FrameError, match=f"unknown opcode {opcode}") as error:
        reader.next()
    assert error.value.code == frames.CLOSE_PROTOCOL_ERROR


def test_a_length_with_the_top_bit_set_is_a_protocol_error() -> None:
    reader = FrameReader(100)
    reader.feed(bytes((0x82, 0x80 | 127)) + struct.pack("!Q", 1 << 63) + b"mask")
    with pytest.raises(FrameError, match="frame length out of range") as error:
        reader.next()
    assert error.value.code == frames.CLOSE_PROTOCOL_ERROR


def test_a_close_reason_that_is_not_utf8_is_invalid_data() -> None:
    with pytest.raises(FrameError, match="not UTF-8") as error:
        frames.parse_close(struct.pack("!H", 1000) + b"\xff\xfe")
    assert error.value.code == frames.CLOSE_INVALID_DATA
