"""The client's address, as far as it can be believed.

Behind a reverse proxy every connection comes from the proxy, so the socket's
peer address says nothing about who is asking: a per-address limit on it would
lock out everyone behind the proxy at once. The proxy says who it is forwarding
for in ``X-Forwarded-For`` (each hop appends the address it got the request
from) or ``X-Real-IP``, but any client can send those headers too, so they are
believed only from the addresses in ``[server] trustedProxies`` (none by
default).

``X-Forwarded-For`` is walked from the right, the end the nearest proxy wrote:
every hop that is itself a trusted proxy is skipped, and the first one that is
not is the client. Whatever a client put further left is never read, so it
cannot choose its own address. ``X-Real-IP`` is used only when there is no
``X-Forwarded-For``.

Used by the login, password and registration limits, the ``/metrics`` allow-list
and the logs, for HTTP requests (:func:`request_address`) and for the WebSocket
handshake, which the front door answers itself (:func:`handshake_address`).
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Iterable

from quart import request

from chat_trio.api.common import services
from chat_trio.transport.handshake import RequestHead

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_address(text: str) -> Address | None:
    """An IP address from a header or a socket; IPv4-mapped IPv6 becomes IPv4.

    Accepts ``1.2.3.4``, ``1.2.3.4:5678``, ``::1`` and ``[::1]:5678``; None for
    anything else (``unknown``, a hostname, garbage).
    """
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Addresses and CIDRs (``10.0.0.0/8``, ``::1``). Raises ValueError on a bad entry."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def address_in(text: str, networks: Iterable[Network]) -> bool:
    """Whether the address ``text`` lies in one of ``networks``."""
    address = parse_address(text)
    return address is not None and any(address in network for network in networks)


class TrustedProxies:
    """Which peers may say who they forward for, and reading what they say."""

    def __init__(self, entries: Iterable[str]) -> None:
        self._networks = parse_networks(entries)

    def trusts(self, address: Address) -> bool:
        return any(address in network for network in self._networks)

    def client_address(self, peer: str, forwarded_for: str = "", real_ip: str = "") -> str:
        """The client's address: ``peer`` itself unless ``peer`` is a trusted proxy.

        Args:
            peer: the socket's peer address.
            forwarded_for: every ``X-Forwarded-For`` header, joined with ", ".
            real_ip: the ``X-Real-IP`` header.
        """
        if not self._networks:  # the default: no address is parsed per request
            return peer
        current = parse_address(peer)
        if current is None or not self.trusts(current):
            return peer
        hops = [hop for hop in forwarded_for.split(",") if hop.strip()]
        if hops:
            for hop in reversed(hops):
                address = parse_address(hop)
                if address is None:
                    break  # a trusted hop wrote garbage: the nearest believable one is it
                current = address
                if not self.trusts(address):
                    break
            return str(current)
        if real_ip:
            address = parse_address(real_ip)
            if address is not None:
                return str(address)
        return str(current)


@functools.lru_cache(maxsize=8)
def trusted_proxies(entries: tuple[str, ...]) -> TrustedProxies:
    """The parsed ``[server] trustedProxies`` (parsed once per distinct setting)."""
    return TrustedProxies(entries)


def request_address() -> str:
    """The client address of the current HTTP request."""
    proxies = trusted_proxies(services().config.server.trusted_proxies)
    return proxies.client_address(
        request.remote_addr or "",
        ", ".join(request.headers.getlist("X-Forwarded-For")),
        request.headers.get("X-Real-IP", ""),
    )


def handshake_address(sock: socket.socket, head: RequestHead, proxies: TrustedProxies) -> str:
    """The client address of a WebSocket handshake on ``sock``."""
    try:
        peer = sock.getpeername()
    except OSError:
        return ""
    peer_host = str(peer[0]) if isinstance(peer, tuple) else str(peer)
    return proxies.client_address(
        peer_host, head.header("x-forwarded-for"), head.header("x-real-ip")
    )
