"""The deployment files stay in step with the code they configure.

The nginx site is also run: a real nginx (Debian's nginx-light; a missing one
fails the test) with the shipped file, changed only in ports and paths, in
front of a real server on 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import shutil
import ssl
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio
import trio_websocket

from chat_trio.client import ChatClient, Connection
from chat_trio.config import Config, env_names, load_config
from tests.conftest import PASSWORD, Server, server_config, start_server
from tests.test_frontdoor import message_each_way, read_response

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def test_every_environment_variable_in_deploy_files_is_a_config_key() -> None:
    known = set(env_names())
    for path in DEPLOY.iterdir():
        for name in re.findall(r"\bCHAT_TRIO_[A-Z_]+\b", path.read_text()):
            assert name in known, f"{path.name}: {name} is not a config key"


def test_compose_environment_makes_a_valid_config(tmp_path: Path) -> None:
    text = (DEPLOY / "docker-compose.yml").read_text()
    env = dict(re.findall(r"^\s+(CHAT_TRIO_[A-Z_]+): (\S+)", text, flags=re.MULTILINE))
    env = {k: re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", v) for k, v in env.items()}
    config = load_config(tmp_path / "none.toml", env=env)
    assert config.database.backend == "mysql"
    assert config.msg_channel.channel_type == "redis"


def test_unit_starts_serve_and_nginx_upgrades_the_socket() -> None:
    unit = (DEPLOY / "chat-trio.service").read_text()
    assert re.search(r"^ExecStart=\S+/chat-trio serve --config \S+$", unit, re.MULTILINE)
    nginx = (DEPLOY / "nginx-chat-trio.conf").read_text()
    assert "location /socket.io" in nginx and "proxy_set_header Upgrade $http_upgrade" in nginx
    assert "client_max_body_size 11m" in nginx
    # nginx lets go of an idle upstream connection before the server closes it.
    found = re.search(r"^\s*keepalive_timeout (\d+)s;", nginx, re.MULTILINE)
    assert found and int(found.group(1)) < Config().server.keep_alive_timeout


# --- The shipped nginx site, run by a real nginx in front of a real server ---------

SHIPPED_SITE = DEPLOY / "nginx-chat-trio.conf"
TLS_NAME = "chat.example.org"


def nginx_binary() -> str:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None
    )
    if found is None:
        pytest.fail("nginx is not installed (Debian: apt-get install nginx-light; .ci/run does)")
    return found


def site_for_test(backend_port: int, run_dir: Path, cert: Path, key: Path) -> str:
    """The shipped site with only ports and paths changed: the upstream is the test
    server, nginx listens on unix sockets in ``run_dir``, the certificate is a
    throwaway one."""
    text = SHIPPED_SITE.read_text()
    changes = {
        "server 127.0.0.1:8888 ": f"server 127.0.0.1:{backend_port} ",
        "listen 80;": f"listen unix:{run_dir}/http.sock;",
        "listen 443 ssl http2;": f"listen unix:{run_dir}/https.sock ssl http2;",
        f"/etc/letsencrypt/live/{TLS_NAME}/fullchain.pem": str(cert),
        f"/etc/letsencrypt/live/{TLS_NAME}/privkey.pem": str(key),
    }
    for old, new in changes.items():
        assert text.count(old) == 1, f"the shipped site no longer has {old!r}"
        text = text.replace(old, new)
    return text


def main_config(run_dir: Path) -> str:
    """A minimal main config around the site; paths a non-root nginx can write."""
    user = "user root root;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {kind}_temp_path {run_dir}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}worker_processes 1;\npid {run_dir}/nginx.pid;\n"
        f"error_log {run_dir}/error.log info;\nevents {{ worker_connections 512; }}\n"
        f"http {{\n    access_log {run_dir}/access.log;\n{temp}\n"
        f"    include {run_dir}/site.conf;\n}}\n"
    )


@dataclass
class Nginx:
    https_socket: Path
    error_log: Path


@pytest.fixture
def run_dir() -> Iterator[Path]:
    """nginx's prefix folder with a throwaway certificate; short, as unix socket
    paths are limited to 107 bytes."""
    path = Path(tempfile.mkdtemp(prefix="ngx-"))
    try:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
             f"/CN={TLS_NAME}", "-keyout", str(path / "key.pem"), "-out", str(path / "cert.pem")],
            check=True, capture_output=True, timeout=30,
        )
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def nginx_in_front(
    nursery: trio.Nursery, tmp_path: Path, run_dir: Path
) -> AsyncIterator[tuple[Nginx, Server]]:
    binary = nginx_binary()
    server = await start_server(nursery, server_config(tmp_path), tmp_path)
    backend_port = int(server.url.rsplit(":", 1)[1])
    site = site_for_test(backend_port, run_dir, run_dir / "cert.pem", run_dir / "key.pem")
    (run_dir / "site.conf").write_text(site)
    (run_dir / "nginx.conf").write_text(main_config(run_dir))
    output = run_dir / "output.log"
    with output.open("wb") as sink:
        process = await trio.lowlevel.open_process(
            [binary, "-p", str(run_dir), "-c", str(run_dir / "nginx.conf"), "-g", "daemon off;"],
            stdout=sink, stderr=subprocess.STDOUT,
        )
    try:
        https = run_dir / "https.sock"
        with trio.fail_after(20):
            while True:  # bounded: nginx is listening once its socket accepts
                if process.poll() is not None:
                    pytest.fail(f"nginx exited with {process.returncode}: {output.read_text()}")
                try:
                    probe = await trio.open_unix_socket(str(https))
                except OSError:
                    await trio.sleep(0.05)
                else:
                    await probe.aclose()
                    break
        yield Nginx(https, run_dir / "error.log"), server
    finally:
        process.terminate()
        with trio.move_on_after(10) as waited:
            waited.shield = True
            await process.wait()
        if process.returncode is None:
            process.kill()


def client_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the throwaway certificate of the test
    return context


async def open_tls(nginx: Nginx) -> trio.SSLStream[trio.SocketStream]:
    sock = await trio.open_unix_socket(str(nginx.https_socket))
    stream = trio.SSLStream(sock, client_tls(), server_hostname=TLS_NAME)
    await stream.do_handshake()
    return stream


async def get_through(stream: trio.abc.Stream, path: str, buffer: bytearray) -> bytes:
    await stream.send_all(f"GET {path} HTTP/1.1\r\nHost: {TLS_NAME}\r\n\r\n".encode())
    return await read_response(stream, buffer)


async def test_http_then_websockets_through_the_shipped_nginx_site(
    nginx_in_front: tuple[Nginx, Server],
) -> None:
    """nginx keeps its upstream connections alive, so after plain HTTP each upgrade
    reaches the server as a later request on a reused connection: every one must
    become the chat socket (101, a message each way), on both spellings of the path."""
    nginx, server = nginx_in_front
    with trio.fail_after(120):
        async with ChatClient(server.url) as api:
            await api.signup("behind-nginx", PASSWORD)
            assert api.me is not None
            token = api.me.token
        http = await open_tls(nginx)
        async with http:
            buffer = bytearray()
            for _ in range(5):
                answer = await get_through(http, "/healthz", buffer)
                assert answer.startswith(b"HTTP/1.1 200 "), answer
            for i in range(20):
                # One more plain request first, so the upgrade that follows takes
                # the upstream connection this one just left in nginx's cache.
                answer = await get_through(http, "/healthz", buffer)
                assert answer.startswith(b"HTTP/1.1 200 "), answer
                path = "/socket.io/" if i % 2 else "/socket.io"
                stream = await open_tls(nginx)
                async with stream, trio.open_nursery() as nursery:
                    ws = await trio_websocket.wrap_client_stream(
                        nursery, stream, TLS_NAME, f"{path}?token={token}"
                    )
                    await message_each_way(Connection(ws))
                    await ws.aclose()
    log = nginx.error_log.read_text()
    assert "upstream prematurely closed" not in log and "502" not in log, log
