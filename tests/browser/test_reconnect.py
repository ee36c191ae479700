"""The client reconnects by itself after the server restarts."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from .conftest import ChatServer, befriend, register_and_login, unique


@pytest.fixture
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatServer]:
    srv = ChatServer(tmp_path_factory.mktemp("chat-trio-restart"))
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def test_reconnect_after_server_restart(browser: Browser, own_server: ChatServer) -> None:
    alice = register_and_login(browser, own_server, unique("alice"))
    bob = register_and_login(browser, own_server, unique("bob"))
    try:
        befriend(alice, bob)
        alice.open_conv(bob.username)
        bob.open_conv(alice.username)
        alice.send_text("before the restart")
        expect(bob.page.get_by_test_id("msg")).to_have_count(1)

        own_server.stop()
        status = alice.page.get_by_test_id("conn-status")
        expect(status).to_have_attribute("data-state", "reconnecting")
        # A message sent while the server is away is marked failed, not lost.
        alice.page.get_by_test_id("message-input").fill("while it was down")
        alice.page.get_by_test_id("send-button").click()
        failed = alice.page.get_by_test_id("msg-failed")
        expect(failed).to_be_visible()

        own_server.start()
        for user in (alice, bob):
            user.page.wait_for_function("() => window.__chatTrio.connects >= 2")
            user.expect_online()
        failed.click()
        expect(failed).to_have_count(0)
        expect(
            bob.page.locator('[data-testid="msg"][data-mine="0"]', has_text="while it was down")
        ).to_be_visible()

        alice.send_text("after the restart")
        expect(
            bob.page.locator('[data-testid="msg"][data-mine="0"]', has_text="after the restart")
        ).to_be_visible()
        # The open conversation's history was reloaded: nothing lost, nothing doubled.
        expect(bob.page.get_by_test_id("msg")).to_have_count(3)
        bob.send_text("welcome back")
        expect(alice.page.get_by_test_id("msg")).to_have_count(4)
        assert alice.errors + bob.errors == []
    finally:
        alice.page.context.close()
        bob.page.context.close()


def test_silent_server_is_detected_by_the_heartbeat(
    browser: Browser, own_server: ChatServer
) -> None:
    alice = register_and_login(browser, own_server, unique("alice"))
    try:
        # Ping every 0.2 s instead of every heartbeatSeconds, to keep the test short.
        alice.page.evaluate(
            """() => {
                const s = window.__chatTrio.socket;
                s.heartbeatMs = 200;
                s.startHeartbeat();
            }"""
        )
        assert own_server.proc is not None
        os.kill(own_server.proc.pid, signal.SIGSTOP)
        try:
            # The socket stays open, but the pings go unanswered.
            expect(alice.page.get_by_test_id("conn-status")).to_have_attribute(
                "data-state", "reconnecting"
            )
        finally:
            os.kill(own_server.proc.pid, signal.SIGCONT)
        alice.page.wait_for_function("() => window.__chatTrio.connects >= 2")
        alice.expect_online()
        assert alice.errors == []
    finally:
        alice.page.context.close()
