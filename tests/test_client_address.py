"""The client address behind a reverse proxy: believed only from trusted proxies.

End-to-end tests send real requests from 127.0.0.1 carrying ``X-Forwarded-For``
/ ``X-Real-IP``, once with 127.0.0.1 configured as a trusted proxy and once not.
"""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
import trio

from chat_trio.api.client_address import TrustedProxies, parse_address
from chat_trio.config import Config
from chat_trio.errors import ConfigError
from tests.conftest import PASSWORD, MakeUser, Server, server_config, start_server
from tests.test_socket import welcome


def test_forwarded_for_is_walked_from_the_right_skipping_trusted_hops() -> None:
    proxies = TrustedProxies(["127.0.0.1", "10.0.0.0/8"])
    assert proxies.client_address("127.0.0.1", "203.0.113.9") == "203.0.113.9"
    # a client-supplied entry to the left of the real one is never read
    assert proxies.client_address("127.0.0.1", "1.1.1.1, 203.0.113.9") == "203.0.113.9"
    assert proxies.client_address("127.0.0.1", "1.1.1.1, 203.0.113.9, 10.2.3.4") == "203.0.113.9"
    # only trusted hops: the furthest of them
    assert proxies.client_address("127.0.0.1", "10.0.0.5, 10.2.3.4") == "10.0.0.5"
    assert proxies.client_address("127.0.0.1", "", "198.51.100.1") == "198.51.100.1"
    assert proxies.client_address("127.0.0.1", "203.0.113.9", "198.51.100.1") == "203.0.113.9"
    assert proxies.client_address("127.0.0.1", "garbage, 10.2.3.4") == "10.2.3.4"
    assert proxies.client_address("127.0.0.1", "[2001:db8::1]:443") == "2001:db8::1"
    assert proxies.client_address("::ffff:127.0.0.1", "203.0.113.9") == "203.0.113.9"
    # from a peer that is not a trusted proxy the headers mean nothing
    assert proxies.client_address("192.0.2.7", "203.0.113.9", "198.51.100.1") == "192.0.2.7"
    assert TrustedProxies([]).client_address("127.0.0.1", "203.0.113.9") == "127.0.0.1"
    assert parse_address("unknown") is None


def test_a_bad_trusted_proxy_entry_stops_start_up() -> None:
    with pytest.raises(ConfigError, match="trustedProxies"):
        Config().replace("server", trusted_proxies=("not-an-address",))
    with pytest.raises(ConfigError, match="metricsAllow"):
        Config().replace("server", metrics_allow=("10.0.0.0/33",))


async def _server(nursery: trio.Nursery, tmp_path: Path, trusted: tuple[str, ...]) -> Server:
    config = server_config(
        tmp_path, login_failures_per_minute=1000, login_failures_per_minute_per_address=3,
    ).replace("server", trusted_proxies=trusted)
    return await start_server(nursery, config, tmp_path)


async def _login(http: httpx.AsyncClient, password: str, **headers: str) -> int:
    response = await http.post(
        "/user/login", json={"username": "target", "password": password}, headers=headers
    )
    return response.status_code


@pytest.mark.parametrize("trusted", [True, False])
async def test_the_per_address_login_limit_uses_the_forwarded_client(
    nursery: trio.Nursery, tmp_path: Path, trusted: bool
) -> None:
    server = await _server(nursery, tmp_path, ("127.0.0.1",) if trusted else ())
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await http.post(
            "/user/register", json={"username": "target", "password": PASSWORD}
        )).status_code == 201
        attacker = {"X-Forwarded-For": "203.0.113.66"}
        for _ in range(3):
            assert await _login(http, "wrong-guess", **attacker) == 401
        assert await _login(http, "wrong-guess", **attacker) == 429
        # someone else behind the same proxy
        legitimate = await _login(http, PASSWORD, **{"X-Forwarded-For": "198.51.100.20"})
        by_real_ip = await _login(http, PASSWORD, **{"X-Real-IP": "198.51.100.21"})
        # the attacker cannot escape its bucket by naming another address further left
        spoofed = await _login(
            http, "wrong-guess", **{"X-Forwarded-For": "192.0.2.1, 203.0.113.66"}
        )
    if trusted:
        assert (legitimate, by_real_ip, spoofed) == (200, 200, 429)
    else:  # everyone is 127.0.0.1, as before: the headers are not believed
        assert (legitimate, by_real_ip, spoofed) == (429, 429, 429)


async def test_a_session_logs_its_forwarded_client_address(
    nursery: trio.Nursery, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = await _server(nursery, tmp_path, ("127.0.0.1",))
    from chat_trio.client import ChatClient

    caplog.set_level(logging.INFO, logger="chat_trio.api.socket")
    async with ChatClient(server.url) as api:
        await api.signup("walker", PASSWORD)
        async with api.connect(extra_headers=[("X-Forwarded-For", "198.51.100.77")]) as conn:
            await welcome(conn)
    assert any(
        "198.51.100.77" in record.getMessage()
        for record in caplog.records
        if record.name == "chat_trio.api.socket"
    )


async def test_untrusted_headers_are_not_logged_as_the_address(
    server: Server, make_user: MakeUser, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="chat_trio.api.socket")
    user = await make_user()
    async with user.api.connect(extra_headers=[("X-Forwarded-For", "198.51.100.78")]) as conn:
        await welcome(conn)
    messages = [r.getMessage() for r in caplog.records if r.name == "chat_trio.api.socket"]
    assert any("from 127.0.0.1" in m for m in messages)
    assert not any("198.51.100.78" in m for m in messages)
