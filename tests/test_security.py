"""One test (or more) per threat of docs/security.md: each asserts the refusal and
that nothing leaked or changed. The server here runs with small limits so that
floods and brute force show quickly."""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
import trio_websocket
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat_trio import codec
from chat_trio.api.security import origin_allowed
from chat_trio.auth import COOKIE_NAME
from chat_trio.client import ChatClient
from chat_trio.errors import ProtocolError
from chat_trio.model import FrameType
from tests.conftest import (
    PASSWORD,
    MakeUser,
    Server,
    befriend,
    make_group,
    server_config,
    start_server,
)
from tests.test_http_api import raw
from tests.test_socket import welcome

FOREIGN = "https://evil.example"
FRIENDLY = "https://chat.example.org"


@pytest.fixture
async def server(nursery: trio.Nursery, tmp_path: Path) -> Server:
    config = server_config(
        tmp_path,
        login_failures_per_minute=3,
        login_failures_per_minute_per_address=100,
        messages_per_second=1.0,
        message_burst=3,
        flood_close_after=5,
        sessions_per_user=2,
        max_frame_bytes=64 * 1024,
    ).replace("server", allowed_origins=(FRIENDLY,))
    return await start_server(nursery, config, tmp_path)


async def test_login_brute_force_gets_429_with_retry_after(
    server: Server, make_user: MakeUser
) -> None:
    await make_user("target")
    for _ in range(3):
        response = await raw(
            server, "POST", "/user/login", json={"username": "target", "password": "guess1234"}
        )
        assert response.status_code == 401
    for password in ("guess1234", PASSWORD):  # even the right password waits now
        response = await raw(
            server, "POST", "/user/login", json={"username": "target", "password": password}
        )
        assert response.status_code == 429
        assert int(response.headers["retry-after"]) >= 1
        assert response.json()["code"] == -1
        assert "token" not in response.text


async def test_socket_from_a_foreign_origin_is_refused(
    server: Server, make_user: MakeUser
) -> None:
    user = await make_user()
    with pytest.raises(trio_websocket.ConnectionRejected) as refused:
        async with user.api.connect(extra_headers=[("Origin", FOREIGN)]):
            pass
    assert refused.value.status_code == 403
    for origin in (server.url, FRIENDLY):
        async with user.api.connect(extra_headers=[("Origin", origin)]) as conn:
            await welcome(conn)


async def test_cors_answers_only_listed_origins_never_star(server: Server) -> None:
    listed = await raw(server, "GET", "/client-config", headers={"Origin": FRIENDLY})
    assert listed.headers["access-control-allow-origin"] == FRIENDLY
    assert listed.headers["access-control-allow-credentials"] == "true"
    foreign = await raw(server, "GET", "/client-config", headers={"Origin": FOREIGN})
    assert "access-control-allow-origin" not in foreign.headers


async def test_web_client_carries_security_headers(server: Server) -> None:
    index = await raw(server, "GET", "/")
    csp = index.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "'unsafe-eval'" not in csp
    assert index.headers["x-content-type-options"] == "nosniff"
    assert index.headers["referrer-policy"] == "no-referrer"


async def test_message_flood_gets_429_then_1008(make_user: MakeUser) -> None:
    a, b = await make_user(), await make_user()
    async with a.api.connect() as ca:
        await welcome(ca)
        for i in range(12):
            await ca.send_text(b.uuid, f"spam {i}")
        codes = []
        with pytest.raises(trio_websocket.ConnectionClosed) as closed:  # noqa: PT012
            with trio.fail_after(10):
                while True:
                    frame = await ca.receive()
                    if frame.type == FrameType.ERROR:
                        codes.append(frame.code)
        assert closed.value.reason is not None
        assert closed.value.reason.code == 1008
        assert codes and set(codes) == {429}
    history = await b.api.request(
        "GET", "/message", params={"Uuid": b.uuid, "MessageType": 1, "FriendUsername": a.username}
    )
    assert len(history) <= 4  # the burst, and what refilled meanwhile


async def test_a_frame_over_the_limit_closes_with_1009(make_user: MakeUser) -> None:
    a, b = await make_user(), await make_user()
    async with a.api.connect() as ca:
        await welcome(ca)
        await ca.send(codec.Message(to=b.uuid, contentType=3, messageType=1, file=b"\0" * 70_000))
        with pytest.raises(trio_websocket.ConnectionClosed) as closed, trio.fail_after(10):
            await ca.receive()
        assert closed.value.reason is not None
        assert closed.value.reason.code == 1009
    assert await b.api.request(
        "GET", "/message", params={"Uuid": b.uuid, "MessageType": 1, "FriendUsername": a.username}
    ) == []


async def test_sessions_per_user_are_bounded(make_user: MakeUser) -> None:
    user = await make_user()
    async with user.api.connect() as one, user.api.connect() as two:
        await welcome(one)
        await welcome(two)
        with pytest.raises(trio_websocket.ConnectionRejected) as refused:
            async with user.api.connect():
                pass
        assert refused.value.status_code == 429


async def test_json_body_over_the_limit_is_refused(server: Server) -> None:
    response = await raw(
        server, "POST", "/user/register",
        json={"username": "big", "password": PASSWORD, "nickname": "n" * 100_000},
    )
    assert response.status_code == 413
    login = await raw(server, "POST", "/user/login", json={"username": "big", "password": PASSWORD})
    assert login.status_code == 401  # nothing was created


@pytest.mark.parametrize(
    "username", ["'; DROP TABLE users; --", "x" * 65, "a\x00b", "<script>", "a b"]
)
async def test_hostile_usernames_are_refused(server: Server, username: str) -> None:
    response = await raw(
        server, "POST", "/user/register", json={"username": username, "password": PASSWORD}
    )
    assert response.status_code == 400
    assert response.json()["code"] == -1


async def test_sql_looking_text_is_stored_literally(make_user: MakeUser) -> None:
    a, b = await make_user(), await make_user()
    sql = "x'); DELETE FROM messages; --"
    await a.api.request("PUT", "/user", json={"nickname": sql, "email": "' OR '1'='1"})
    assert (await a.api.request("GET", "/user/me"))["nickname"] == sql
    async with a.api.connect() as ca:
        await welcome(ca)
        await ca.send_text(b.uuid, sql)
        assert (await ca.receive()).type == FrameType.ACK
    history = await b.api.request(
        "GET", "/message", params={"Uuid": b.uuid, "MessageType": 1, "FriendUsername": a.username}
    )
    assert [m["content"] for m in history] == [sql]


async def test_non_utf8_body_is_refused(server: Server) -> None:
    response = await raw(
        server, "POST", "/user/register", content=b'{"username": "\xff\xfe", "password": "x"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400


async def test_svg_upload_is_served_as_an_attachment(server: Server, make_user: MakeUser) -> None:
    user = await make_user()
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    stored = await user.api.request("POST", "/upload", files={"file": ("pic.svg", svg)})
    assert stored["contentType"] == 2
    served = await raw(server, "GET", f"/file/{stored['name']}")
    assert served.headers["content-disposition"].startswith("attachment")
    assert served.headers["x-content-type-options"] == "nosniff"
    assert not served.headers["content-type"].startswith(("image/svg", "text/html"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=512))
def test_decoder_never_raises_anything_but_a_protocol_error(data: bytes) -> None:
    outcome: codec.Message | ProtocolError
    try:
        outcome = codec.decode(data)
    except ProtocolError as refused:
        outcome = refused
    assert isinstance(outcome, codec.Message) or outcome.code == 400


async def test_random_frames_never_end_the_session(make_user: MakeUser) -> None:
    user = await make_user()
    rng = random.Random(2026)
    batch = [rng.randbytes(rng.randint(1, 256)) for _ in range(20)]
    async with user.api.connect() as conn:
        await welcome(conn)
        for frame in batch:
            await conn.send_raw(frame)
        # the session answers every frame (error, 429, or relays) and still pongs
        await conn.heartbeat()
        with trio.fail_after(10):
            while (await conn.receive()).type != FrameType.HEARTBEAT:
                pass


async def test_unauthenticated_requests_change_nothing(server: Server, make_user: MakeUser) -> None:
    victim = await make_user()
    async with httpx.AsyncClient(base_url=server.url) as anonymous:
        for method, path, kwargs in [
            ("PUT", "/user", {"json": {"username": victim.username, "nickname": "pwned"}}),
            ("POST", f"/group/{victim.uuid}", {"json": {"name": "hijacked"}}),
            ("POST", "/friend", {"json": {"uuid": victim.uuid, "friendUsername": "x"}}),
        ]:
            response = await anonymous.request(method, path, **kwargs)  # type: ignore[arg-type]
            assert response.status_code == 401
    assert (await victim.api.request("GET", "/user/me"))["nickname"] == victim.username
    assert await victim.api.request("GET", f"/group/{victim.uuid}") == []


def same_site_origin(server: Server) -> str:
    """Another port of the server's own host: same site, but another origin."""
    host = httpx.URL(server.url).host
    return f"http://{host}:1"


async def test_json_routes_accept_only_application_json(server: Server) -> None:
    """A form may post text/plain (or a form type) anywhere; such bodies are not JSON."""
    body = json.dumps({"username": "formed", "password": PASSWORD})
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"Content-Type": content_type} if content_type else {}
        response = await raw(server, "POST", "/user/register", content=body, headers=headers)
        assert response.status_code == 415, content_type
        assert response.json()["code"] == -1
        assert "application/json" in response.json()["msg"]
    login = await raw(
        server, "POST", "/user/login", json={"username": "formed", "password": PASSWORD}
    )
    assert login.status_code == 401  # nothing was created


async def test_state_changing_requests_from_another_origin_are_refused(
    server: Server, make_user: MakeUser
) -> None:
    """Cross-site request forgery, from another port of the same host (same site, so
    the SameSite=Lax cookie goes along) and from a foreign site."""
    victim = await make_user()
    friend = await make_user()
    cookie = {"Cookie": f"{COOKIE_NAME}={victim.me.token}"}
    forged: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", f"/group/{victim.uuid}", {"json": {"name": "forged"}}),
        ("POST", "/friend", {"json": {"uuid": victim.uuid, "friendUsername": friend.username}}),
        ("PUT", "/user", {"json": {"username": victim.username, "nickname": "pwned"}}),
        ("POST", "/upload", {"files": {"file": ("a.svg", b"<svg/>")}}),
        ("POST", "/user/logout", {}),
    ]
    refusals = [{"Origin": same_site_origin(server)}, {"Origin": FOREIGN}, {"Origin": "null"}]
    refusals += [{"Sec-Fetch-Site": "same-site"}, {"Sec-Fetch-Site": "cross-site"}]
    for headers in refusals:
        for method, path, kwargs in forged:
            response = await raw(
                server, method, path, headers={**cookie, **headers}, **kwargs
            )
            assert response.status_code == 403, (method, path, headers)
            assert response.json()["code"] == -1
            assert "cross-origin request refused" in response.json()["msg"]
    assert await victim.api.request("GET", f"/group/{victim.uuid}") == []
    assert await victim.api.request("GET", "/user", params={"uuid": victim.uuid}) == []
    assert (await victim.api.request("GET", "/user/me"))["nickname"] == victim.username
    # the server's own pages, listed origins and non-browser clients go through
    allowed = [
        {"Origin": server.url}, {"Origin": FRIENDLY}, {"Sec-Fetch-Site": "same-origin"}, {}
    ]
    for i, headers in enumerate(allowed):
        response = await raw(
            server, "POST", f"/group/{victim.uuid}", json={"name": f"ok{i}"},
            headers={**cookie, **headers},
        )
        assert response.status_code == 201, headers


async def test_login_from_another_origin_is_refused(server: Server, make_user: MakeUser) -> None:
    """Login CSRF: a page must not log its visitor in as the attacker."""
    attacker = await make_user()
    for origin in (same_site_origin(server), FOREIGN):
        response = await raw(
            server, "POST", "/user/login",
            json={"username": attacker.username, "password": PASSWORD},
            headers={"Origin": origin},
        )
        assert response.status_code == 403
        assert "set-cookie" not in response.headers and "token" not in response.text
    ours = await raw(
        server, "POST", "/user/login",
        json={"username": attacker.username, "password": PASSWORD},
        headers={"Origin": server.url},
    )
    assert ours.status_code == 200 and "set-cookie" in ours.headers


async def test_chunked_json_body_is_refused_as_soon_as_it_passes_the_limit(
    server: Server,
) -> None:
    """A body without Content-Length is counted while it arrives: the 413 comes
    before the client has finished (here: never finishes) sending it."""
    limit = server.config.limits.max_body_bytes
    url = httpx.URL(server.url)
    chunk = b"x" * 16 * 1024
    head = (
        f"POST /user/register HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    assert url.port is not None
    stream = await trio.open_tcp_stream(url.host, url.port)
    async with stream:
        await stream.send_all(head)
        for _ in range(limit // len(chunk) + 1):
            await stream.send_all(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        # the last chunk (0) is never sent: only a streaming check can answer now
        answer = b""
        with trio.fail_after(20):
            while b"\r\n\r\n" not in answer:
                data = await stream.receive_some()
                assert data, "the connection closed without an answer"
                answer += data
    assert answer.startswith(b"HTTP/1.1 413"), answer[:100]
    login = await raw(server, "POST", "/user/login", json={"username": "x", "password": PASSWORD})
    assert login.status_code == 401


async def test_chunked_json_body_over_the_limit_is_refused(server: Server) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b'{"username": "big", "password": "%s", "nickname": "' % PASSWORD.encode()
        for _ in range(8):
            yield b"n" * 16 * 1024
        yield b'"}'

    response = await raw(
        server, "POST", "/user/register", content=body(),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["code"] == -1
    login = await raw(server, "POST", "/user/login", json={"username": "big", "password": PASSWORD})
    assert login.status_code == 401  # nothing was created


async def test_email_is_shown_only_to_its_owner(server: Server, make_user: MakeUser) -> None:
    owner, other = await make_user(), await make_user()
    for user in (owner, other):
        await user.api.request(
            "PUT", "/user", json={"username": user.username, "email": f"{user.username}@x.org"}
        )
    await befriend(owner, other)
    group_uuid = await make_group(owner, "private-mail", other)
    assert (await owner.api.request("GET", "/user/me"))["email"] == f"{owner.username}@x.org"
    seen = [
        await other.api.request("GET", f"/user/{owner.uuid}"),
        (await other.api.request("GET", "/user/name", params={"name": owner.username}))["user"],
        *await other.api.request("GET", "/user", params={"uuid": other.uuid}),
        *[
            m for m in await other.api.request("GET", f"/group/user/{group_uuid}")
            if m["uuid"] == owner.uuid
        ],
    ]
    assert len(seen) == 4
    for record in seen:
        assert record["uuid"] == owner.uuid
        assert record["email"] == ""  # the key stays, for go-chat's client
    own = await owner.api.request("GET", f"/user/{owner.uuid}")
    assert own["email"] == f"{owner.username}@x.org"
    members = await other.api.request("GET", f"/group/user/{group_uuid}")
    assert {m["uuid"]: m["email"] for m in members}[other.uuid] == f"{other.username}@x.org"
async def test_parallel_login_guesses_get_at_most_the_bucket_of_401s(
    server: Server, make_user: MakeUser
) -> None:
    """The failure is charged before the slow hash, not after: a burst of guesses in
    parallel cannot all pass the check while the first ones are still hashing."""
    await make_user("besieged")
    statuses: list[int] = []
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:

        async def guess(i: int) -> None:
            response = await http.post(
                "/user/login", json={"username": "besieged", "password": f"guess {i:04}"}
            )
            statuses.append(response.status_code)

        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                for i in range(40):
                    nursery.start_soon(guess, i)
        right = await http.post(
            "/user/login", json={"username": "besieged", "password": PASSWORD}
        )
    assert len(statuses) == 40
    assert statuses.count(401) <= 3  # loginFailuresPerMinute here
    assert set(statuses) <= {401, 429}
    assert right.status_code == 429
    assert int(right.headers["retry-after"]) >= 1


async def test_a_right_password_gives_its_charge_back(server: Server, make_user: MakeUser) -> None:
    await make_user("regular")
    for _ in range(5):  # more than loginFailuresPerMinute, all right
        login = await raw(
            server, "POST", "/user/login", json={"username": "regular", "password": PASSWORD}
        )
        assert login.status_code == 200


async def test_password_change_needs_the_old_password(server: Server, make_user: MakeUser) -> None:
    user = await make_user("changer")
    token = user.me.token
    headers = {"Authorization": f"Bearer {token}"}

    async def change(**extra: str) -> httpx.Response:
        return await raw(
            server, "PUT", "/user", headers=headers,
            json={"username": "changer", "password": "a new password", **extra},
        )

    missing = await change()
    assert missing.status_code == 400
    assert "oldPassword" in missing.json()["msg"]
    assert (await change(oldPassword="not the password")).status_code == 403
    assert (await change(oldPassword=PASSWORD)).status_code == 200
    # two more wrong ones use up the bucket (3 per minute here; the right one gave its
    # charge back), and the wrong old passwords count as failed logins
    assert (await change(oldPassword="still wrong 1")).status_code == 403
    assert (await change(oldPassword="still wrong 2")).status_code == 403
    assert (await change(oldPassword="a new password")).status_code == 429
    login = await raw(
        server, "POST", "/user/login", json={"username": "changer", "password": "a new password"}
    )
    assert login.status_code == 429


async def test_sessions_per_user_hold_under_concurrent_handshakes(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    """The slot is reserved at the check: 40 handshakes at once for one user with a
    limit of 4 open exactly 4 sessions, and every slot comes back exactly once."""
    config = server_config(tmp_path, sessions_per_user=4)
    server = await start_server(nursery, config, tmp_path)
    async with ChatClient(server.url) as api:
        await api.signup("crowd", PASSWORD)
        accepted: list[int] = []
        refused: list[int] = []
        answered = trio.Event()
        release = trio.Event()

        def note(outcome: list[int], value: int) -> None:
            outcome.append(value)
            if len(accepted) + len(refused) == 40:
                answered.set()

        async def attempt() -> None:
            try:
                async with api.connect() as conn:
                    note(accepted, 101)
                    await welcome(conn)
                    await release.wait()
            except trio_websocket.ConnectionRejected as rejected:
                note(refused, rejected.status_code)

        with trio.fail_after(60):
            async with trio.open_nursery() as crowd:
                for _ in range(40):
                    crowd.start_soon(attempt)
                await answered.wait()
                assert len(accepted) == 4
                assert set(refused) == {429}
                release.set()

        # every slot came back once: 4 open again (the last closes may still be
        # finishing on the server), and not a fifth
        with trio.fail_after(30):
            async with contextlib.AsyncExitStack() as stack:
                opened = 0
                while opened < 4:
                    try:
                        conn = await stack.enter_async_context(api.connect())
                    except trio_websocket.ConnectionRejected:
                        await trio.sleep(0.05)  # a slot still on its way back
                        continue
                    await welcome(conn)
                    opened += 1
                with pytest.raises(trio_websocket.ConnectionRejected) as fifth:
                    async with api.connect():
                        pass
                assert fifth.value.status_code == 429


async def test_registrations_are_limited_per_client_address(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    config = server_config(tmp_path, registrations_per_hour_per_address=3).replace(
        "server", trusted_proxies=("127.0.0.1",)
    )
    server = await start_server(nursery, config, tmp_path)

    async def register(name: str, address: str) -> httpx.Response:
        return await raw(
            server, "POST", "/user/register", headers={"X-Forwarded-For": address},
            json={"username": name, "password": PASSWORD},
        )

    for i in range(3):
        assert (await register(f"flood{i}", "203.0.113.50")).status_code == 201
    refused = await register("flood3", "203.0.113.50")
    assert refused.status_code == 429
    assert refused.json()["code"] == -1
    assert int(refused.headers["retry-after"]) >= 1
    login = await raw(
        server, "POST", "/user/login", json={"username": "flood3", "password": PASSWORD}
    )
    assert login.status_code == 401  # nothing was created
    # someone else behind the same proxy is not held up
    assert (await register("neighbour", "203.0.113.51")).status_code == 201


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        ("http://127.0.0.1:8888", "127.0.0.1:8888", True),
        ("https://chat.example.org", "chat.example.org", True),
        ("https://chat.example.org", "chat.example.org:443", True),  # default port written out
        ("HTTPS://Chat.Example.org", "chat.example.org", True),
        ("http://[::1]:8888", "[::1]:8888", True),
        (FRIENDLY, "127.0.0.1:8888", True),  # listed
        ("http://127.0.0.1:9999", "127.0.0.1:8888", False),  # another port: same site only
        ("https://chat.example.org:8443", "chat.example.org", False),
        ("https://evil.example", "chat.example.org", False),
        ("null", "chat.example.org", False),
        ("ftp://chat.example.org", "chat.example.org", False),
        ("http://chat.example.org:x", "chat.example.org", False),
        ("http://chat.example.org", "", False),
    ],
)
def test_origin_is_compared_by_host_and_port(origin: str, host: str, allowed: bool) -> None:
    assert origin_allowed(origin, host, (FRIENDLY,)) is allowed
