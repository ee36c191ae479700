"""Cost of parsing and accepting one WebSocket opening handshake, sans-I/O.

    python benchmarks/handshake.py        (pip install websockets to add it)

Compares the front door's own head parser (chat_trio.transport.handshake) with
wsproto's server handshake (h11 underneath) and the websockets package's
ServerProtocol, on the same browser-like head.
"""

from __future__ import annotations

import timeit
from collections.abc import Callable

from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request

from chat_trio.transport import handshake

HEAD = (
    b"GET /socket.io?user=0b1c&token=Zm9vYmFyYmF6cXV4eHl6enk HTTP/1.1\r\n"
    b"Host: chat.example.org\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    b"Origin: https://chat.example.org\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n"
    b"Cookie: chat_session=abc; theme=dark\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n"
)


def ours() -> bytes:
    request = handshake.parse_head(HEAD[:-4])
    assert handshake.upgrade_problem(request) == ""
    return handshake.accept_response(request)


def wsproto_server() -> bytes:
    ws = WSConnection(ConnectionType.SERVER)
    ws.receive_data(HEAD)
    assert isinstance(next(ws.events()), Request)
    return ws.send(AcceptConnection())


def candidates() -> list[Callable[[], bytes]]:
    found: list[Callable[[], bytes]] = [ours, wsproto_server]
    try:
        from websockets.server import ServerProtocol
    except ImportError:
        return found

    def websockets_server() -> bytes:
        protocol = ServerProtocol()
        protocol.receive_data(HEAD)
        (request,) = protocol.events_received()
        protocol.send_response(protocol.accept(request))  # type: ignore[arg-type]
        return b"".join(protocol.data_to_send())

    found.append(websockets_server)
    return found


def main() -> None:
    for fn in candidates():
        fn()
        n = 20_000
        best = min(timeit.repeat(fn, number=n, repeat=5)) / n
        print(f"{fn.__name__:20s} {best * 1e6:7.1f} us per handshake")


if __name__ == "__main__":
    main()
