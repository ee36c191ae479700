"""Relaying: calls, signaling, video and screen frames go to one user and are never stored.

A relayed frame is only queued for its recipient, so it is capped by kind
(``[limits] maxSignalingBytes``, ``maxMediaFrameBytes``): one user cannot fill
another's outbox with a few huge frames. It goes to the recipient's sessions
through the hub's call table (chat_trio/calls.py), which delivers it to the
devices ringing for or in the call, here and, through the bus, on other nodes.
"""

from __future__ import annotations

import trio

from chat_trio import codec
from chat_trio.calls import Peer, Signal
from chat_trio.config import LimitsConfig
from chat_trio.errors import ProtocolError
from chat_trio.hub import HubEvent
from chat_trio.model import ContentType, FrameType

#: Relayed content types that carry media (JPEG data URLs, recorded chunks): these
#: get ``maxMediaFrameBytes``; every other relayed frame is signaling or call control.
_MEDIA = frozenset({
    ContentType.AUDIO_ONLINE, ContentType.VIDEO_ONLINE,
    ContentType.VIDEO_FRAME, ContentType.SCREEN_FRAME,
})


def check_size(message: codec.Message, size: int, limits: LimitsConfig) -> None:
    """Refuse a relayed frame over the cap of its kind.

    Raises:
        ProtocolError: 413, with the cap and the frame's size.
    """
    if message.type != FrameType.WEBRTC and message.contentType in _MEDIA:
        limit, what = limits.max_media_frame_bytes, "a call, video or screen frame"
    else:
        limit, what = limits.max_signaling_bytes, "a signaling or call-control frame"
    if size > limit:
        raise ProtocolError(413, f"{what} may be at most {limit} bytes; this one is {size}")


class Relay:
    """Hands relayed frames to the hub, whose call table routes them."""

    def __init__(self, hub_inbox: trio.MemorySendChannel[HubEvent]) -> None:
        self._hub_inbox = hub_inbox

    async def send(self, message: codec.Message, to: str, origin: Peer) -> None:
        """Encode ``message`` once (no id, no time: it is not stored, and ``to`` set
        to the user it goes to) and hand it to the call table."""
        message.id = 0
        message.createAt = 0
        message.to = to
        message.reason = ""  # said by the server only
        frame = codec.relay_frame(message)
        sender = getattr(message, "from")
        await self._hub_inbox.send(Signal(frame, sender, to, message.contentType, origin))
