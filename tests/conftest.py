"""Shared fixtures: a real chat-trio server on 127.0.0.1 (port 0) and logged-in users.

Rules for every test here: only 127.0.0.1; port 0; real SQLite files in a tmp
dir; each end-to-end test bounded with ``trio.fail_after`` on the real clock
(a hang guard, never a speed assertion).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio

from chat_trio.app import serve
from chat_trio.client import ChatClient, Me
from chat_trio.config import Config

#: Cheap argon2 settings: tests create many users; production keeps the defaults.
FAST_AUTH = {"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1}

PASSWORD = "correct horse battery"


def server_config(tmp_path: Path, **limits: object) -> Config:
    config = (
        Config()
        .replace("server", host="127.0.0.1", port=0, graceful_timeout=2.0)
        .replace("sqlite", path=str(tmp_path / "chat.db"))
        .replace("static_path", file_path=str(tmp_path / "files"))
        .replace("auth", **FAST_AUTH)
    )
    if limits:
        config = config.replace("limits", **limits)
    return config


@dataclass
class Server:
    url: str
    config: Config
    tmp_path: Path


@dataclass
class User:
    api: ChatClient
    me: Me

    @property
    def uuid(self) -> str:
        return self.me.uuid

    @property
    def username(self) -> str:
        return self.me.username


_names = itertools.count(1)


async def start_server(nursery: trio.Nursery, config: Config, tmp_path: Path) -> Server:
    url = await nursery.start(serve, config)
    return Server(url, config, tmp_path)


@pytest.fixture
def server_limits() -> dict[str, object]:
    """Override in a test module to run its server with other limits."""
    return {}


@pytest.fixture
async def server(
    nursery: trio.Nursery, tmp_path: Path, server_limits: dict[str, object]
) -> Server:
    return await start_server(nursery, server_config(tmp_path, **server_limits), tmp_path)


MakeUser = Callable[..., Awaitable[User]]


@pytest.fixture
async def make_user(server: Server) -> AsyncIterator[MakeUser]:
    clients: list[ChatClient] = []

    async def make(name: str | None = None) -> User:
        username = name or f"user{next(_names)}"
        api = ChatClient(server.url)
        clients.append(api)
        me = await api.signup(username, PASSWORD)
        return User(api, me)

    yield make
    for api in clients:
        await api.http.aclose()


async def befriend(a: User, b: User) -> None:
    await a.api.request("POST", "/friend", json={"uuid": a.uuid, "friendUsername": b.username})


async def make_group(owner: User, name: str, *members: User) -> str:
    await owner.api.request("POST", f"/group/{owner.uuid}", json={"name": name, "notice": "hi"})
    groups = await owner.api.request("GET", f"/group/{owner.uuid}")
    group_uuid: str = next(g["uuid"] for g in groups if g["name"] == name)
    for m in members:
        await m.api.request("POST", f"/group/join/{m.uuid}/{group_uuid}")
    return group_uuid
