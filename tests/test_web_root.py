"""``[server] webRoot`` serves any client's production build, and nothing else.

The root here is laid out like go-chat's React build (``static/js``,
``static/css``, ``favicon.ico`` and ``manifest.json`` at the top), with a dotfile,
a folder and a symbolic link out of the root that must never be served.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import trio

from tests.conftest import Server, server_config, start_server

INDEX = b"<!doctype html><title>go-chat</title><div id=root></div>"
MAIN_JS = b"console.log('main');"
CSS = b"body{margin:0}"
ICON = b"\x00\x00\x01\x00icon"
PAGE = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture
def web_root(tmp_path: Path) -> Path:
    root = tmp_path / "build"
    (root / "static" / "js").mkdir(parents=True)
    (root / "static" / "css").mkdir()
    (root / "index.html").write_bytes(INDEX)
    (root / "static" / "js" / "main.js").write_bytes(MAIN_JS)
    (root / "static" / "css" / "x.css").write_bytes(CSS)
    (root / "favicon.ico").write_bytes(ICON)
    (root / "manifest.json").write_bytes(b'{"name": "go-chat"}')
    (root / ".env").write_bytes(b"SECRET=1")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_bytes(b"[core]")
    (tmp_path / "outside.txt").write_bytes(b"outside the root")
    (root / "static" / "link.txt").symlink_to(tmp_path / "outside.txt")
    return root


@pytest.fixture
async def server(nursery: trio.Nursery, tmp_path: Path, web_root: Path) -> Server:
    config = server_config(tmp_path).replace("server", web_root=str(web_root))
    return await start_server(nursery, config, tmp_path)


async def get(server: Server, path: str, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.url) as http:
        return await http.get(path, headers=headers)


async def raw_get(server: Server, target: bytes) -> tuple[int, bytes]:
    """GET exactly ``target`` (httpx would normalise ``..``): the status and the body."""
    url = httpx.URL(server.url)
    assert url.port is not None
    stream = await trio.open_tcp_stream(url.host, url.port)
    async with stream:
        await stream.send_all(
            b"GET %s HTTP/1.1\r\nHost: %s\r\nAccept: */*\r\n\r\n"
            % (target, f"{url.host}:{url.port}".encode())
        )
        answer = b""
        with trio.fail_after(10):
            while b"\r\n\r\n" not in answer:
                data = await stream.receive_some()
                assert data, "closed before the answer's head"
                answer += data
            head, body = answer.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            headers = dict(line.lower().split(": ", 1) for line in lines[1:])
            while len(body) < int(headers.get("content-length", "0")):
                data = await stream.receive_some()
                assert data, "closed before the answer's body"
                body += data
    return int(lines[0].split(" ")[1]), body


async def test_files_of_the_build_are_served(server: Server) -> None:
    js = await get(server, "/static/js/main.js")
    assert js.status_code == 200 and js.content == MAIN_JS
    assert "javascript" in js.headers["content-type"]
    assert "immutable" in js.headers["cache-control"]
    css = await get(server, "/static/css/x.css")
    assert css.status_code == 200 and css.content == CSS
    assert css.headers["content-type"].startswith("text/css")
    icon = await get(server, "/favicon.ico")
    assert icon.status_code == 200 and icon.content == ICON
    assert (await get(server, "/manifest.json")).json() == {"name": "go-chat"}
    index = await get(server, "/")
    assert index.status_code == 200 and index.content == INDEX
    assert index.headers["cache-control"] == "no-cache"
    assert "content-security-policy" in index.headers
    again = await get(server, "/static/js/main.js", **{"If-None-Match": js.headers["etag"]})
    assert again.status_code == 304


async def test_unknown_pages_get_the_index_and_api_paths_do_not(server: Server) -> None:
    page = await get(server, "/chat/some/where", **PAGE)
    assert page.status_code == 200 and page.content == INDEX
    for path, headers in [
        ("/chat/some/where", {}),  # not a browser asking for a page
        ("/static/js/missing.js", {"Accept": "*/*"}),
        ("/group/a/b/c", PAGE),  # under an API prefix
        ("/user/a/b", PAGE),
    ]:
        missing = await get(server, path, **headers)
        assert missing.status_code == 404, path
        assert missing.json()["code"] == -1


@pytest.mark.parametrize(
    "target",
    [
        b"/.env", b"/.git/config", b"/static/../.env", b"/static/%2e%2e/.env",
        b"/static/..%2f..%2foutside.txt", b"/static/link.txt", b"/static", b"/static/",
        b"/static//js/main.js", b"/..%2foutside.txt", b"/static/js/main.js%00",
    ],
)
async def test_nothing_outside_the_root_nor_hidden_is_served(
    server: Server, target: bytes
) -> None:
    status, body = await raw_get(server, target)
    assert status in (404, 400), body[:200]
    for secret in (b"outside the root", b"SECRET", b"[core]"):
        assert secret not in body
