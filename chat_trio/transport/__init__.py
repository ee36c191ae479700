"""The WebSocket transport: framing, handshake, the connection, and the front door.

``frames``, ``handshake`` and ``http1`` are sans-I/O; ``websocket`` runs one
connection over a non-blocking socket it owns, with a synchronous send;
``frontdoor`` listens on the server's one port and routes each request of a
connection to the WebSocket side or to hypercorn.
"""

from chat_trio.transport.frontdoor import FrontDoor, UpgradeHandler
from chat_trio.transport.websocket import TransportClosed, WebSocket

__all__ = ["FrontDoor", "TransportClosed", "UpgradeHandler", "WebSocket"]
