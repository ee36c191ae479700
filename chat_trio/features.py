"""Frames a session asks for: ``/socket.io?features=presence,typing,reads``.

Presence, typing, read (receipts and one's own read positions) and mute frames are
new ``type`` values. A client that ignores what
it does not know would be fine with them, but go-chat's own client files every
frame of an unknown type as a chat message from its ``from``; so a session gets
them only when its handshake asked for them. Unknown names are ignored, so a
client may ask for features a server does not have yet.
"""

from __future__ import annotations

PRESENCE = "presence"
TYPING = "typing"
#: ``read`` and ``mute`` frames (chat_trio/readstate.py)
READS = "reads"
#: Every feature a handshake may name.
KNOWN = frozenset({PRESENCE, TYPING, READS})


def parse(text: str | None) -> frozenset[str]:
    """The known features in a comma-separated list (``?features=``)."""
    if not text:
        return frozenset()
    return frozenset(name.strip() for name in text.split(",")) & KNOWN
