"""Every HTTP route of PROTOCOL.md: the envelope, success, and each refusal with its status."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
import trio_websocket

from chat_trio.auth import COOKIE_NAME
from chat_trio.client import ApiError, ChatClient
from tests.conftest import (
    PASSWORD,
    MakeUser,
    Server,
    befriend,
    make_group,
    server_config,
    start_server,
)

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00"
    b"\x00\x00\x00IEND\xaeB`\x82"
)


async def raw(server: Server, method: str, path: str, **kwargs: object) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.url) as http:
        return await http.request(method, path, **kwargs)  # type: ignore[arg-type]


async def make_user_client(server: Server, username: str, password: str) -> ChatClient:
    """A second login of an existing user; closed by the caller (or on failure here)."""
    api = ChatClient(server.url)
    try:
        await api.login(username, password)
    except BaseException:
        await api.http.aclose()
        raise
    return api


async def test_register_answers_the_user_without_the_hash(server: Server) -> None:
    response = await raw(
        server, "POST", "/user/register",
        json={"username": "ann", "password": PASSWORD, "nickname": "Ann", "email": "a@x.org"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["code"] == 0 and body["msg"] == "SUCCESS"
    assert body["data"]["username"] == "ann"
    assert body["data"]["nickname"] == "Ann"
    assert len(body["data"]["uuid"]) == 36
    assert "password" not in response.text and "argon2" not in response.text


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"username": "", "password": PASSWORD}, 400, "`username` is required"),
        ({"username": "bad name", "password": PASSWORD}, 400, "`username` must be"),
        ({"username": "ann2", "password": "short"}, 400, "at least 8"),
        ({"username": "ann2"}, 400, "`password` is required"),
        ({"username": 5, "password": PASSWORD}, 400, "must be a string"),
        ([1, 2], 400, "JSON object"),
    ],
)
async def test_register_refuses_bad_input(
    server: Server, body: object, status: int, reason: str
) -> None:
    response = await raw(server, "POST", "/user/register", json=body)
    assert response.status_code == status
    assert response.json()["code"] == -1
    assert reason in response.json()["msg"]
    assert response.json()["data"] is None


async def test_register_twice_is_a_conflict(server: Server, make_user: MakeUser) -> None:
    await make_user("taken")
    response = await raw(
        server, "POST", "/user/register", json={"username": "taken", "password": PASSWORD}
    )
    assert response.status_code == 409
    assert response.json()["msg"] == "that username is taken"


async def test_login_gives_token_and_httponly_cookie(server: Server, make_user: MakeUser) -> None:
    user = await make_user("carol")
    response = await raw(
        server, "POST", "/user/login", json={"username": "carol", "password": PASSWORD}
    )
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["uuid"] == user.uuid and data["username"] == "carol"
    assert data["token"]
    cookie = response.headers["set-cookie"]
    assert f"{COOKIE_NAME}={data['token']}" in cookie
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    # the cookie alone authenticates
    me = await raw(server, "GET", "/user/me", headers={"Cookie": f"{COOKIE_NAME}={data['token']}"})
    assert me.json()["data"]["uuid"] == user.uuid


@pytest.mark.parametrize(
    ("username", "password"), [("carol", "wrong password"), ("nobody-here", PASSWORD)]
)
async def test_login_refuses_wrong_password_and_unknown_user_alike(
    server: Server, make_user: MakeUser, username: str, password: str
) -> None:
    await make_user("carol")
    response = await raw(
        server, "POST", "/user/login", json={"username": username, "password": password}
    )
    assert response.status_code == 401
    assert response.json() == {
        "code": -1, "msg": "wrong username or password", "data": None,
        "key": "wrong_credentials",
    }
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/user/me"),
        ("GET", "/user?uuid=x"),
        ("GET", "/user/name?name=x"),
        ("GET", "/user/some-uuid"),
        ("PUT", "/user"),
        ("POST", "/friend"),
        ("GET", "/message?Uuid=x&MessageType=1&FriendUsername=y"),
        ("GET", "/group/x"),
        ("POST", "/group/x"),
        ("POST", "/group/join/x/y"),
        ("GET", "/group/user/x"),
        ("POST", "/file"),
        ("POST", "/upload"),
    ],
)
async def test_every_route_needs_a_login(server: Server, method: str, path: str) -> None:
    response = await raw(server, method, path, headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401
    assert response.json() == {
        "code": -1, "msg": "not logged in", "data": None, "key": "not_logged_in"
    }


async def test_logout_revokes_the_token(server: Server, make_user: MakeUser) -> None:
    user = await make_user()
    await user.api.request("POST", "/user/logout")
    with pytest.raises(ApiError) as refused:
        await user.api.request("GET", "/user/me")
    assert refused.value.status == 401


async def test_user_details_and_unknown_user(make_user: MakeUser) -> None:
    a, b = await make_user(), await make_user()
    details = await a.api.request("GET", f"/user/{b.uuid}")
    assert details["username"] == b.username
    assert "password" not in str(details)
    with pytest.raises(ApiError) as refused:
        await a.api.request("GET", "/user/00000000-0000-0000-0000-000000000000")
    assert refused.value.status == 404


async def test_update_profile_and_password(server: Server, make_user: MakeUser) -> None:
    user = await make_user("dave")
    other_login = await make_user_client(server, "dave", PASSWORD)
    await user.api.request(
        "PUT", "/user",
        json={
            "username": "dave", "nickname": "Dave", "email": "d@x.org", "password": "new pass 123",
            "oldPassword": PASSWORD,
        },
    )
    me = await user.api.request("GET", "/user/me")
    assert (me["nickname"], me["email"]) == ("Dave", "d@x.org")
    # the password changed: old password refused, new one works, other logins revoked
    with pytest.raises(ApiError):
        await (await make_user_client(server, "dave", PASSWORD)).http.aclose()
    await (await make_user_client(server, "dave", "new pass 123")).http.aclose()
    with pytest.raises(ApiError) as refused:
        await other_login.request("GET", "/user/me")
    assert refused.value.status == 401
    await other_login.http.aclose()


async def test_http_takes_no_token_from_the_query(server: Server, make_user: MakeUser) -> None:
    """``?token=`` is for the WebSocket handshake only: a URL with a token in it (in a
    log, a Referer) is not a login for the HTTP routes."""
    user = await make_user()
    refused = await raw(server, "GET", "/user/me", params={"token": user.me.token})
    assert refused.status_code == 401
    by_cookie = await raw(
        server, "GET", "/user/me", headers={"Cookie": f"{COOKIE_NAME}={user.me.token}"}
    )
    assert by_cookie.json()["data"]["uuid"] == user.uuid


async def test_update_refuses_someone_elses_profile(make_user: MakeUser) -> None:
    a, b = await make_user(), await make_user()
    with pytest.raises(ApiError) as refused:
        await a.api.request("PUT", "/user", json={"username": b.username, "nickname": "pwned"})
    assert refused.value.status == 403
    assert (await b.api.request("GET", "/user/me"))["nickname"] == b.username


async def test_friends_add_list_and_refusals(make_user: MakeUser) -> None:
    a, b, c = await make_user(), await make_user(), await make_user()
    await befriend(a, b)
    assert [f["uuid"] for f in await a.api.request("GET", "/user", params={"uuid": a.uuid})] == [
        b.uuid
    ]
    # mutual
    assert [f["uuid"] for f in await b.api.request("GET", "/user", params={"uuid": b.uuid})] == [
        a.uuid
    ]
    cases = [
        ({"uuid": a.uuid, "friendUsername": b.username}, 409),
        ({"uuid": a.uuid, "friendUsername": "no-such-user"}, 404),
        ({"uuid": a.uuid, "friendUsername": a.username}, 400),
        ({"uuid": c.uuid, "friendUsername": b.username}, 403),
    ]
    for body, status in cases:
        with pytest.raises(ApiError) as refused:
            await a.api.request("POST", "/friend", json=body)
        assert refused.value.status == status, body
    # someone else's friend list
    with pytest.raises(ApiError) as refused:
        await c.api.request("GET", "/user", params={"uuid": a.uuid})
    assert refused.value.status == 403


async def test_find_by_name(make_user: MakeUser) -> None:
    a = await make_user("finder")
    b = await make_user("findme")
    group_uuid = await make_group(b, "findgroup")
    found = await a.api.request("GET", "/user/name", params={"name": "findme"})
    assert found["user"]["uuid"] == b.uuid
    assert found["group"] == {
        "uuid": "", "groupId": 0, "userId": 0, "createAt": "", "name": "", "notice": ""
    }
    found = await a.api.request("GET", "/user/name", params={"name": "findgroup"})
    assert found["group"]["uuid"] == group_uuid
    assert found["user"]["username"] == ""
    with pytest.raises(ApiError) as refused:
        await a.api.request("GET", "/user/name", params={"name": ""})
    assert refused.value.status == 400


async def test_groups_create_join_list_members(make_user: MakeUser) -> None:
    a, b, c = await make_user(), await make_user(), await make_user()
    group_uuid = await make_group(a, "team", b)
    groups = await b.api.request("GET", f"/group/{b.uuid}")
    assert [(g["uuid"], g["name"], g["notice"]) for g in groups] == [(group_uuid, "team", "hi")]
    assert {"groupId", "createAt"} <= set(groups[0])
    members = await a.api.request("GET", f"/group/user/{group_uuid}")
    assert [m["uuid"] for m in members] == [a.uuid, b.uuid]
    refusals = [
        (a, "POST", f"/group/{a.uuid}", {"json": {"name": "team"}}, 409),
        (a, "POST", f"/group/{a.uuid}", {"json": {"name": ""}}, 400),
        (a, "POST", f"/group/{b.uuid}", {"json": {"name": "not mine"}}, 403),
        (b, "POST", f"/group/join/{b.uuid}/{group_uuid}", {}, 409),
        (c, "POST", f"/group/join/{c.uuid}/no-such-group", {}, 404),
        (c, "POST", f"/group/join/{b.uuid}/{group_uuid}", {}, 403),
        (c, "GET", f"/group/user/{group_uuid}", {}, 403),
        (c, "GET", "/group/user/no-such-group", {}, 404),
        (c, "GET", f"/group/{a.uuid}", {}, 403),
    ]
    for actor, method, path, kwargs, status in refusals:
        with pytest.raises(ApiError) as refused:
            await actor.api.request(method, path, **kwargs)
        assert refused.value.status == status, (method, path)


async def test_history_routes_and_refusals(make_user: MakeUser) -> None:
    a, b, outsider = await make_user(), await make_user(), await make_user()
    group_uuid = await make_group(a, "histgroup", b)
    async with a.api.connect() as conn:
        await conn.receive()  # welcome
        await conn.send_text(b.uuid, "to b")
        await conn.receive()  # ack
        await conn.send_text(group_uuid, "to group", group=True)
        await conn.receive()  # ack
    one = await b.api.request(
        "GET", "/message", params={"Uuid": b.uuid, "MessageType": 1, "FriendUsername": a.username}
    )
    assert [m["content"] for m in one] == ["to b"]
    item = one[0]
    assert set(item) >= {
        "id", "fromUserId", "toUserId", "content", "contentType", "url", "createAt",
        "fromUsername", "toUsername", "avatar",
    }
    assert (item["fromUserId"], item["toUserId"]) == (a.uuid, b.uuid)
    # camelCase keys work too
    group = await b.api.request(
        "GET", "/message", params={"uuid": group_uuid, "messageType": 2}
    )
    assert [m["content"] for m in group] == ["to group"]
    refusals = [
        ({"Uuid": a.uuid, "MessageType": 1, "FriendUsername": b.username}, 403),
        ({"Uuid": group_uuid, "MessageType": 2}, 403),
        ({"Uuid": "nope", "MessageType": 2}, 404),
        ({"Uuid": outsider.uuid, "MessageType": 1, "FriendUsername": "nobody"}, 404),
        ({"Uuid": outsider.uuid, "MessageType": 1}, 400),
        ({"Uuid": outsider.uuid, "MessageType": 7}, 400),
    ]
    for params, status in refusals:
        with pytest.raises(ApiError) as refused:
            await outsider.api.request("GET", "/message", params=params)
        assert refused.value.status == status, params


async def test_avatar_upload_and_file_served(server: Server, make_user: MakeUser) -> None:
    user = await make_user()
    name = await user.api.request(
        "POST", "/file", data={"uuid": user.uuid}, files={"file": ("me.jpg", PNG, "image/jpeg")}
    )
    assert name.endswith(".png")  # the bytes say PNG, whatever the name said
    assert (await user.api.request("GET", "/user/me"))["avatar"] == name
    served = await raw(server, "GET", f"/file/{name}")
    assert served.status_code == 200
    assert served.content == PNG
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"


async def test_avatar_must_be_an_image_and_ones_own(make_user: MakeUser) -> None:
    a, b = await make_user(), await make_user()
    with pytest.raises(ApiError) as refused:
        await a.api.request(
            "POST", "/file", data={"uuid": a.uuid}, files={"file": ("x.png", b"plain text")}
        )
    assert refused.value.status == 400
    with pytest.raises(ApiError) as refused:
        await a.api.request("POST", "/file", data={"uuid": b.uuid}, files={"file": ("x", PNG)})
    assert refused.value.status == 403
    with pytest.raises(ApiError) as refused:
        await a.api.request("POST", "/file", data={"uuid": a.uuid})
    assert refused.value.status == 400
    assert (await b.api.request("GET", "/user/me"))["avatar"] == ""


async def test_upload_attachment_types_from_bytes(server: Server, make_user: MakeUser) -> None:
    user = await make_user()
    image = await user.api.request("POST", "/upload", files={"file": ("a.txt", PNG)})
    assert (image["contentType"], image["mime"], image["size"]) == (3, "image/png", len(PNG))
    html = await user.api.request(
        "POST", "/upload", files={"file": ("page.png", b"<html><script>alert(1)</script>")}
    )
    assert html["contentType"] == 2
    served = await raw(server, "GET", f"/file/{html['name']}")
    assert served.headers["content-disposition"].startswith("attachment")
    assert served.headers["content-type"] == "application/octet-stream"


async def test_oversized_upload_is_refused_before_the_body(
    server: Server, make_user: MakeUser
) -> None:
    """The declared length alone gets a 413; the server does not read 11 MiB first."""
    user = await make_user()
    port = int(server.url.rsplit(":", 1)[1])
    head = (
        "POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {user.me.token}\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\n"
        f"Content-Length: {11 * 1024 * 1024}\r\n\r\n"
    ).encode()
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(head + b"--b\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = await stream.receive_some(65536)
            assert chunk, "connection closed without an answer"
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413")


@pytest.mark.parametrize(
    "name", ["../chat.db", "..%2Fchat.db", "%2e%2e/%2e%2e/etc/passwd", "nothere.png", "x"]
)
async def test_file_route_never_leaves_the_upload_folder(server: Server, name: str) -> None:
    response = await raw(server, "GET", f"/file/{name}")
    assert response.status_code == 404
    assert response.json()["code"] == -1


async def test_unknown_route_and_method_use_the_envelope(server: Server) -> None:
    missing = await raw(server, "GET", "/no/such/route")
    assert missing.status_code == 404 and missing.json()["code"] == -1
    wrong = await raw(server, "DELETE", "/friend")
    assert wrong.status_code == 405 and wrong.json()["code"] == -1


async def test_client_config_and_web_index(server: Server) -> None:
    config = (await raw(server, "GET", "/client-config")).json()["data"]
    assert config["iceServers"] == [] and config["heartbeatSeconds"] == 10
    index = await raw(server, "GET", "/panel/some-uuid")
    assert index.status_code == 200 and "<" in index.text


async def test_a_refused_upload_does_not_stall_the_next_request(server: Server) -> None:
    """A body left unread by a refusal must not be taken for the next request."""
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        for _ in range(3):
            refused = await http.post("/upload", files={"file": ("a.png", PNG)})
            assert refused.status_code == 401
        assert (await http.get("/client-config")).status_code == 200


async def test_legacy_error_status_answers_refusals_with_200(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    """``legacyErrorStatus``: go-chat's client reads only the envelope of 2xx answers."""
    config = server_config(tmp_path).replace("server", legacy_error_status=True)
    server = await start_server(nursery, config, tmp_path)
    refusals: list[tuple[str, str, dict[str, Any], str]] = [
        ("GET", "/user/me", {}, "not logged in"),  # ProtocolError
        ("GET", "/no/such/route", {}, "no such route"),  # HTTPException 404
        ("DELETE", "/friend", {}, "method not allowed"),  # HTTPException 405
        ("POST", "/user/login", {"json": {"username": "x", "password": PASSWORD}},
         "wrong username or password"),
        ("POST", "/user/register", {"content": b"{}", "headers": {"Origin": "http://evil"}},
         "cross-origin request refused"),
    ]
    for method, path, kwargs, reason in refusals:
        response = await raw(server, method, path, **kwargs)
        assert response.status_code == 200, (method, path)
        body = response.json()
        assert body["code"] == -1 and reason in body["msg"] and body["data"] is None
    # the WebSocket handshake keeps its real status
    async with ChatClient(server.url) as api:
        with pytest.raises(trio_websocket.ConnectionRejected) as rejected:
            async with api.connect(token="not-a-token", user="nobody"):
                pass
    assert rejected.value.status_code == 401
