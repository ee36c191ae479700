"""The OpenAPI document stays true: it lists exactly the app's routes, and every
documented operation, called on a live server, answers with its documented status
and a body that matches the documented schema (success and a refusal each)."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import jsonschema
import pytest

from chat_trio.api import openapi
from tests.conftest import PASSWORD, MakeUser, Server, make_group
from tests.test_delivery import next_ack
from tests.test_http_api import PNG

#: Routes that are not part of the JSON API: the web client, the socket, the docs.
NOT_API = {
    "/", "/login", "/register", "/panel", "/panel/{}", "/{}",
    "/socket.io", "/openapi.json", "/api-docs", "/static/{}",
}


def shape(path: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?[a-zA-Z_]+>|\{[a-zA-Z_]+\}", "{}", path)


async def test_document_lists_exactly_the_apps_routes(server: Server) -> None:
    from quart_trio import QuartTrio

    from chat_trio.api import BLUEPRINTS

    app = QuartTrio("routes-only")
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    served = {
        (shape(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS") and shape(rule.rule) not in NOT_API
    }
    documented = {
        (shape(path), method) for path, ops in openapi.PATHS.items() for method in ops
    }
    assert served == documented


def check(response: httpx.Response, path: str, method: str) -> None:
    document = openapi.document()
    operation = document["paths"][path][method]
    status = str(response.status_code)
    assert status in operation["responses"], (
        f"{method.upper()} {path} answered {status}, not documented: {response.text[:200]}"
    )
    content = operation["responses"][status].get("content", {})
    if "application/json" in content:
        schema = {**content["application/json"]["schema"], "components": document["components"]}
        jsonschema.Draft202012Validator(schema).validate(response.json())


async def test_every_operation_answers_as_documented(
    server: Server, make_user: MakeUser
) -> None:
    me, friend = await make_user(), await make_user()
    asker, decliner, other = await make_user(), await make_user(), await make_user()
    for sender in (asker, decliner):
        await sender.api.request("POST", "/friend/requests", json={"uuid": me.uuid})
    group_uuid = await make_group(friend, "documented")
    avatar = await me.api.request(
        "POST", "/file", data={"uuid": me.uuid}, files={"file": ("a.png", PNG)}
    )
    async with me.api.connect() as conn:
        await conn.send_text(friend.uuid, "documented", client_id="documented-1")
        _client_id, message_id = await next_ack(conn)
    conversation = f"/conversations/user/{friend.uuid}"
    calls: dict[tuple[str, str], dict[str, Any]] = {
        ("/user/register", "post"): {"json": {"username": "newbie", "password": PASSWORD}},
        ("/user/login", "post"): {"json": {"username": me.username, "password": PASSWORD}},
        ("/user/logout", "post"): {},
        ("/user/me", "get"): {},
        ("/user", "get"): {"params": {"uuid": me.uuid}},
        ("/user", "put"): {"json": {"nickname": "Documented"}},
        ("/user/name", "get"): {"params": {"name": friend.username}},
        ("/user/online", "get"): {"params": {"uuid": friend.uuid}},
        ("/user/{uuid}", "get"): {"url": f"/user/{friend.uuid}"},
        ("/presence", "get"): {},
        ("/friend", "post"): {"json": {"uuid": me.uuid, "friendUsername": friend.username}},
        ("/friend/requests", "post"): {"json": {"uuid": other.uuid}},
        ("/friend/requests", "get"): {},
        ("/friend/requests/{uuid}", "delete"): {"url": f"/friend/requests/{other.uuid}"},
        ("/friend/requests/{uuid}/accept", "post"): {
            "url": f"/friend/requests/{asker.uuid}/accept"
        },
        ("/friend/requests/{uuid}/decline", "post"): {
            "url": f"/friend/requests/{decliner.uuid}/decline"
        },
        ("/friend/{uuid}", "delete"): {"url": f"/friend/{asker.uuid}"},
        ("/block/{uuid}", "post"): {"url": f"/block/{other.uuid}"},
        ("/block", "get"): {},
        ("/block/{uuid}", "delete"): {"url": f"/block/{other.uuid}"},
        ("/search", "get"): {"params": {"q": friend.username[:3]}},
        ("/message", "get"): {
            "params": {"Uuid": me.uuid, "MessageType": 1, "FriendUsername": friend.username}
        },
        ("/message/since", "get"): {"params": {"id": 0}},
        ("/message/search", "get"): {"params": {"q": "hello"}},
        ("/file/{name}", "get"): {"url": f"/file/{avatar}"},
        ("/file", "post"): {"data": {"uuid": me.uuid}, "files": {"file": ("b.png", PNG)}},
        ("/upload", "post"): {"files": {"file": ("c.png", PNG)}},
        ("/group/{uuid}", "get"): {"url": f"/group/{me.uuid}"},
        ("/group/{uuid}", "post"): {"url": f"/group/{me.uuid}", "json": {"name": "mine"}},
        ("/group/join/{userUuid}/{groupUuid}", "post"): {
            "url": f"/group/join/{me.uuid}/{group_uuid}"
        },
        ("/group/user/{groupUuid}", "get"): {"url": f"/group/user/{group_uuid}"},
        ("/client-config", "get"): {},
        ("/healthz", "get"): {},
        ("/readyz", "get"): {},
        ("/metrics", "get"): {},
        ("/conversations", "get"): {"params": {"limit": 10}},
        ("/conversations/{kind}/{uuid}/read", "put"): {
            "url": f"{conversation}/read", "json": {"id": message_id}
        },
        ("/conversations/{kind}/{uuid}/read", "post"): {
            "url": f"{conversation}/read", "json": {"id": message_id}
        },
        ("/conversations/{kind}/{uuid}/reads", "get"): {"url": f"{conversation}/reads"},
        ("/conversations/{kind}/{uuid}/mute", "put"): {
            "url": f"{conversation}/mute", "json": {"muted": True}
        },
        ("/message/{id}/seen", "get"): {"url": f"/message/{message_id}/seen"},
        ("/settings", "get"): {},
        ("/settings", "put"): {"json": {"readReceipts": True}},
    }
    documented = {(p, m) for p, ops in openapi.PATHS.items() for m in ops}
    assert set(calls) == documented
    headers = {"Authorization": f"Bearer {me.me.token}"}
    order = sorted(calls, key=lambda k: k == ("/user/logout", "post"))  # logout last
    async with (
        httpx.AsyncClient(base_url=server.url) as http,
        httpx.AsyncClient(base_url=server.url) as anonymous,  # never logs in: no cookie
    ):
        for path, method in order:
            kwargs = dict(calls[(path, method)])
            url = kwargs.pop("url", path)
            # refused before anything changes: a page of another origin, a body not JSON
            if method in ("post", "put"):
                forged = await http.request(
                    method.upper(), url, headers={**headers, "Origin": "https://evil.example"},
                    **kwargs,
                )
                assert forged.status_code == 403, (path, method)
                check(forged, path, method)
            if "json" in kwargs:
                plain = await http.request(
                    method.upper(), url, content=json.dumps(kwargs["json"]),
                    headers={**headers, "Content-Type": "text/plain"},
                )
                assert plain.status_code == 415, (path, method)
                check(plain, path, method)
            response = await http.request(method.upper(), url, headers=headers, **kwargs)
            assert response.status_code < 300, (path, method, response.text[:200])
            check(response, path, method)
            # and a refusal: without a login where one is needed, else a bad request
            operation = openapi.PATHS[path][method]
            if "401" in operation["responses"] and operation.get("security") != []:
                refused = await anonymous.request(method.upper(), url, **kwargs)
                assert refused.status_code == 401
                check(refused, path, method)


@pytest.mark.parametrize("path", ["/openapi.json", "/api-docs"])
async def test_document_and_page_are_served(server: Server, path: str) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.get(path)
    assert response.status_code == 200
    if path == "/openapi.json":
        assert response.json()["openapi"] == "3.1.0"
    else:
        assert "/user/register" in response.text


async def test_asking_back_answers_200_as_documented(server: Server, make_user: MakeUser) -> None:
    a, b = await make_user(), await make_user()
    await a.api.request("POST", "/friend/requests", json={"uuid": b.uuid})
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.post(
            "/friend/requests", json={"uuid": a.uuid},
            headers={"Authorization": f"Bearer {b.me.token}"},
        )
    assert response.status_code == 200 and response.json()["data"]["status"] == "friends"
    check(response, "/friend/requests", "post")
