"""Fixtures for the browser tests: a real chat-trio server and headless Chromium.

Every test here drives the built web client (web/dist) in Chromium through
Playwright's sync API, against a ``python -m chat_trio serve`` subprocess on a
free loopback port with its own SQLite file and upload folder. Chromium is the
system one (/usr/bin/chromium), started with fake camera, microphone and screen
so that calls, recordings and screen sharing work headless. Tests wait on
conditions in the page, never on the clock.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

try:
    from playwright import sync_api as playwright_sync
except ImportError:  # the bundle check needs no browser
    playwright_sync = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parents[2]
WEB_DIST = ROOT / "web" / "dist"
CHROMIUM = os.environ.get("CHAT_TRIO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
]
#: Longest wait for any one condition in the page, in milliseconds.
WAIT_MS = 20_000
#: Longest wait for the server to accept connections, in seconds.
SERVER_START_S = 30.0
PASSWORD = "correct horse battery"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives headless Chromium through Playwright")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ChatServer:
    """One chat-trio server process; stop() and start() keep port and database."""

    workdir: Path
    port: int = field(default_factory=_free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.workdir / "config.toml"

    def write_config(self) -> None:
        files = self.workdir / "files"
        files.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            "[server]\n"
            f'webRoot = "{WEB_DIST.as_posix()}"\n'
            "[sqlite]\n"
            f'path = "{(self.workdir / "chat.db").as_posix()}"\n'
            "[staticPath]\n"
            f'filePath = "{files.as_posix()}/"\n'
            # Cheap password hashing: the tests register many users.
            "[auth]\n"
            "argon2TimeCost = 1\n"
            "argon2MemoryKib = 1024\n"
            "argon2Parallelism = 1\n"
            # ... all from 127.0.0.1, more than the default hourly limit.
            "[limits]\n"
            "registrationsPerHourPerAddress = 100000\n"
            "[log]\n"
            'level = "info"\n'
            f'path = "{(self.workdir / "server.log").as_posix()}"\n',
            encoding="utf-8",
        )

    def start(self) -> None:
        assert self.proc is None
        self.write_config()
        log = (self.workdir / "stdout.log").open("ab")
        try:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "chat_trio",
                    "serve",
                    "--config",
                    str(self.config_path),
                    "--port",
                    str(self.port),
                ],
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()
        deadline = time.monotonic() + SERVER_START_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chat-trio exited early:\n{self.output()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"chat-trio did not open port {self.port}:\n{self.output()}")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def output(self) -> str:
        path = self.workdir / "stdout.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatServer]:
    if not (WEB_DIST / "index.html").exists():
        pytest.fail("web/dist is missing: run `npm --prefix web ci && npm --prefix web run build`")
    srv = ChatServer(tmp_path_factory.mktemp("chat-trio"))
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[playwright_sync.Browser]:
    # Like the other suites' services, a missing browser fails the run.
    if playwright_sync is None:
        pytest.fail("playwright is missing: pip install -e '.[test]'")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    playwright_sync.expect.set_options(timeout=WAIT_MS)
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@dataclass
class User:
    """A registered user with a logged-in page of its own browser context."""

    username: str
    page: playwright_sync.Page
    #: Uncaught errors and Content-Security-Policy violations seen in the page.
    errors: list[str] = field(default_factory=list)

    def conv(self, name: str) -> playwright_sync.Locator:
        return self.page.locator(f'[data-testid="conv-item"][data-name="{name}"]')

    def open_conv(self, name: str) -> None:
        self.conv(name).click()
        playwright_sync.expect(self.page.get_by_test_id("chat")).to_have_attribute(
            "data-conv", name
        )

    def messages(self) -> playwright_sync.Locator:
        return self.page.get_by_test_id("msg")

    def send_text(self, text: str) -> None:
        self.page.get_by_test_id("message-input").fill(text)
        self.page.get_by_test_id("send-button").click()
        playwright_sync.expect(
            self.page.locator('[data-testid="msg"][data-mine="1"]', has_text=text).last
        ).to_have_attribute("data-status", "sent")

    def expect_online(self) -> None:
        playwright_sync.expect(self.page.get_by_test_id("conn-status")).to_have_attribute(
            "data-state", "open"
        )

    def ask_to_be_friends(self, username: str) -> None:
        """Search and press Add: a friend request until the other side adds back."""
        self.search(username)
        with self.page.expect_response(lambda r: r.url.endswith("/friend/requests")) as answer:
            self.page.get_by_test_id("add-friend").click()
        assert answer.value.ok

    def find_and_add_friend(self, username: str) -> None:
        """Search and press Add when ``username`` already asked: now friends."""
        self.search(username)
        self.page.get_by_test_id("add-friend").click()
        playwright_sync.expect(self.conv(username)).to_be_visible()

    def search(self, name: str) -> None:
        box = self.page.get_by_test_id("search-input")
        box.fill(name)
        box.press("Enter")
        playwright_sync.expect(self.page.get_by_test_id("search-result")).to_be_visible()


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def register_and_login(
    browser: playwright_sync.Browser, server: ChatServer, username: str, **context_args: Any
) -> User:
    context = browser.new_context(
        base_url=server.url, permissions=["camera", "microphone"], **context_args
    )
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    page.on(
        "console",
        lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.goto("/register")
    page.get_by_test_id("register-username").fill(username)
    page.get_by_test_id("register-password").fill(PASSWORD)
    page.get_by_test_id("register-nickname").fill(username.capitalize())
    page.get_by_test_id("register-submit").click()
    # Registering logs in: straight into the chat.
    playwright_sync.expect(page.get_by_test_id("panel")).to_be_visible()
    user = User(username, page, errors)
    user.expect_online()
    return user


@pytest.fixture
def make_user(
    browser: playwright_sync.Browser, server: ChatServer
) -> Iterator[Callable[..., User]]:
    users: list[User] = []

    def make(prefix: str = "u", **context_args: object) -> User:
        user = register_and_login(browser, server, unique(prefix), **context_args)
        users.append(user)
        return user

    yield make
    for u in users:
        u.page.context.close()
    assert [e for u in users for e in u.errors] == []


def second_device(
    browser: playwright_sync.Browser, server: ChatServer, user: User, **context_args: object
) -> User:
    """The same account logged in from a browser context of its own (another device)."""
    context = browser.new_context(base_url=server.url, **context_args)  # type: ignore[arg-type]
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    page.goto("/login")
    page.get_by_test_id("login-username").fill(user.username)
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    playwright_sync.expect(page.get_by_test_id("panel")).to_be_visible()
    device = User(user.username, page, errors)
    device.expect_online()
    return device


def befriend(asker: User, accepter: User) -> None:
    """Make two users friends through the page: ``asker`` adds ``accepter``
    (a request), ``accepter`` adds back (the acceptance), and ``asker``'s list
    shows the new friend without a reload (the acceptance is pushed)."""
    asker.ask_to_be_friends(accepter.username)
    accepter.find_and_add_friend(asker.username)
    playwright_sync.expect(asker.conv(accepter.username)).to_be_visible()


@pytest.fixture
def friends(make_user: Callable[..., User]) -> tuple[User, User]:
    """Two users who are friends, each with the other's conversation open."""
    alice = make_user("alice")
    bob = make_user("bob")
    befriend(alice, bob)
    alice.open_conv(bob.username)
    bob.open_conv(alice.username)
    return alice, bob
