"""The WebSocket transport: framing, handshake, the connection, and the front door.

``frames`` and ``handshake`` are sans-I/O; ``websocket`` runs one connection
over a non-blocking socket it owns, with a synchronous send; ``frontdoor``
listens on the server's one port and routes each new connection to the
WebSocket side or to hypercorn.
"""

from chat_trio.transport.frontdoor import FrontDoor, UpgradeHandler
from chat_trio.transport.websocket import TransportClosed, WebSocket

__all__ = ["FrontDoor", "TransportClosed", "UpgradeHandler", "WebSocket"]
