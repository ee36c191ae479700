"""The client address's edges: an IPv4 address with its port, a bracket left
open, an ``X-Real-IP`` that is not an address, and a handshake socket whose peer
is already gone."""

from __future__ import annotations

import socket

from chat_trio.api.client_address import TrustedProxies, handshake_address, parse_address
from chat_trio.transport.handshake import parse_head

HEAD = b"GET /ws HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.9"


def test_an_address_with_a_port_and_an_unclosed_bracket() -> None:
    assert str(parse_address("203.0.113.9:443")) == "203.0.113.9"
    assert str(parse_address("[2001:db8::1]")) == "2001:db8::1"
    assert parse_address("[2001:db8::1") is None


def test_an_x_real_ip_that_is_no_address_leaves_the_proxy() -> None:
    proxies = TrustedProxies(["127.0.0.1"])
    assert proxies.client_address("127.0.0.1", "", "unknown") == "127.0.0.1"
    assert proxies.client_address("127.0.0.1", "", "198.51.100.1") == "198.51.100.1"


def test_the_handshake_address_of_a_connected_and_of_an_unconnected_socket() -> None:
    proxies = TrustedProxies(["127.0.0.1"])
    head = parse_head(HEAD)
    with (
        socket.create_server(("127.0.0.1", 0)) as listener,
        socket.create_connection(listener.getsockname(), timeout=5) as client,
    ):
        accepted, _ = listener.accept()
        with accepted:
            assert handshake_address(accepted, head, proxies) == "203.0.113.9"
            assert handshake_address(client, head, TrustedProxies([])) == "127.0.0.1"
    with socket.socket() as never_connected:  # getpeername fails: ENOTCONN
        assert handshake_address(never_connected, head, proxies) == ""
