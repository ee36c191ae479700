"""The web root's edges: no client built, a file the OS will not read, a name no
route passes, and the call settings ``/client-config`` hands to browsers."""

from __future__ import annotations

from pathlib import Path

import httpx
import trio

from chat_trio.api.web import read_static
from tests.conftest import Server, server_config, start_server

PAGE = {"Accept": "text/html"}


async def get(server: Server, path: str, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        return await http.get(path, headers=headers)


async def test_a_root_without_index_html_says_how_to_build_the_client(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    root = tmp_path / "empty-build"
    root.mkdir()
    config = server_config(tmp_path).replace("server", web_root=str(root))
    server = await start_server(nursery, config, tmp_path)
    for path in ("/", "/panel/x", "/some/page"):
        page = await get(server, path, **PAGE)
        assert page.status_code == 200, path
        assert page.headers["content-type"].startswith("text/html")
        assert "npm --prefix web run build" in page.text


def test_read_static_refuses_names_outside_or_hidden(tmp_path: Path) -> None:
    """The guard holds in read_static itself, not only in the route before it."""
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "a.txt").write_bytes(b"a")
    (tmp_path / "secret").write_bytes(b"secret")
    root = tmp_path / "root"
    assert read_static(root, "a.txt") is not None
    for name in ("../secret", ".hidden", "", "a\\b", "a\0"):
        assert read_static(root, name) is None, name


def test_a_file_that_cannot_be_read_is_not_found() -> None:
    """A regular file whose read fails (here a process's own memory, which the
    kernel refuses to read at offset 0 with EIO) is a miss, not a crash."""
    assert Path("/proc/self/mem").is_file()
    assert read_static(Path("/proc/self"), "mem") is None


async def test_client_config_hands_out_ice_servers(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    urls = ("stun:stun.example:3478", "turn:turn.example:3478")
    base = server_config(tmp_path)
    with_turn = base.replace(
        "webrtc", ice_servers=urls, turn_username="u", turn_credential="secret"
    )
    stun_only = base.replace("webrtc", ice_servers=urls[:1]).replace(
        "sqlite", path=str(tmp_path / "other.db")
    )
    turn = await start_server(nursery, with_turn, tmp_path)
    stun = await start_server(nursery, stun_only, tmp_path)
    assert (await get(turn, "/client-config")).json()["data"]["iceServers"] == [
        {"urls": list(urls), "username": "u", "credential": "secret"}
    ]
    assert (await get(stun, "/client-config")).json()["data"]["iceServers"] == [
        {"urls": [urls[0]]}
    ]
