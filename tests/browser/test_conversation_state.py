"""Conversation state that lives on the server: unread counts that survive a reload and
clear on every device, all of a long history reachable by scrolling, and catch-up after
a dropped connection.

Messages from the other side are sent with chat_trio.client over the socket (fast: the
server here has a flood budget large enough for a thousand frames), not typed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trio
from playwright.sync_api import Browser, Page, expect

from chat_trio.client import ChatClient

from .conftest import (
    PASSWORD,
    WAIT_MS,
    ChatServer,
    User,
    befriend,
    register_and_login,
    second_device,
    unique,
)

#: Longest wait for the sending client, in seconds.
SEND_S = 60


class FastServer(ChatServer):
    """A server whose flood budget lets one session send a thousand frames at once."""

    def write_config(self) -> None:
        super().write_config()
        text = self.config_path.read_text(encoding="utf-8")
        self.config_path.write_text(
            text.replace(
                "[limits]\n", "[limits]\nmessagesPerSecond = 100000.0\nmessageBurst = 100000\n"
            ),
            encoding="utf-8",
        )


@pytest.fixture(scope="module")
def fast_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatServer]:
    srv = FastServer(tmp_path_factory.mktemp("chat-trio-state"))
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def send_texts(server: ChatServer, username: str, to: str, texts: list[str]) -> list[int]:
    """Logs in as ``username``, sends ``texts`` to user ``to`` over the socket and
    returns the stored ids, in sending order, once every one is acked."""

    async def run() -> list[int]:
        with trio.fail_after(SEND_S):
            async with ChatClient(server.url) as client:
                await client.login(username, PASSWORD)
                async with client.connect() as conn:
                    ids: list[int] = []

                    async def sender() -> None:
                        for text in texts:
                            await conn.send_text(to, text)

                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(sender)
                        while len(ids) < len(texts):
                            frame = await conn.receive()
                            if frame.type == "ack":
                                ids.append(int(frame.id))
                            elif frame.type == "error":
                                raise AssertionError(f"refused: {frame.content}")
                    return ids

    return trio.run(run)


def uuid_of(user: User) -> str:
    value = user.page.evaluate("() => window.__chatTrio.me.uuid")
    assert isinstance(value, str)
    return value



def unread_of(name: str) -> str:
    return f'[data-testid="conv-item"][data-name="{name}"] [data-testid="unread"]'


def test_unread_survives_reload_and_clears_on_the_other_device(
    browser: Browser, fast_server: ChatServer
) -> None:
    alice = register_and_login(browser, fast_server, unique("alice"))
    bob = register_and_login(browser, fast_server, unique("bob"))
    carol = register_and_login(browser, fast_server, unique("carol"))
    users = [alice, bob, carol]
    try:
        befriend(alice, bob)
        befriend(alice, carol)
        send_texts(fast_server, bob.username, uuid_of(alice), ["one", "two"])
        send_texts(fast_server, carol.username, uuid_of(alice), ["hi"])
        badge = alice.page.locator(unread_of(bob.username))
        expect(badge).to_have_attribute("data-count", "2")

        alice.page.reload()
        alice.expect_online()
        expect(badge).to_have_attribute("data-count", "2")
        # order by last activity: carol wrote last; previews survive the reload
        expect(alice.page.get_by_test_id("conv-item").first).to_have_attribute(
            "data-name", carol.username
        )
        expect(alice.conv(bob.username)).to_contain_text("two")

        phone = second_device(browser, fast_server, alice)
        users.append(phone)
        phone_badge = phone.page.locator(unread_of(bob.username))
        expect(phone_badge).to_have_attribute("data-count", "2")
        expect(phone.page.locator(unread_of(carol.username))).to_have_attribute(
            "data-count", "1"
        )

        alice.open_conv(bob.username)
        expect(badge).to_have_count(0)
        expect(phone_badge).to_have_count(0)  # pushed: no reload on the phone
        expect(phone.page.locator(unread_of(carol.username))).to_have_attribute(
            "data-count", "1"
        )
        phone.page.reload()
        phone.expect_online()
        expect(phone.conv(bob.username)).to_be_visible()
        expect(phone_badge).to_have_count(0)
        expect(phone.page).to_have_title("(1) chat-trio", timeout=WAIT_MS)
    finally:
        for u in users:
            u.page.context.close()
    assert [e for u in users for e in u.errors] == []


def first_and_last_ids(page: Page) -> list[int]:
    value = page.evaluate(
        """() => [...document.querySelectorAll('[data-testid="msg"]')]
                  .map((el) => Number(el.dataset.id || 0))"""
    )
    assert isinstance(value, list)
    return [int(v) for v in value]


def test_long_history_opens_at_the_newest_and_scrolls_to_the_first(
    browser: Browser, fast_server: ChatServer
) -> None:
    alice = register_and_login(browser, fast_server, unique("alice"))
    bob = register_and_login(browser, fast_server, unique("bob"))
    try:
        befriend(alice, bob)
        bob.page.goto("about:blank")  # bob writes from the test, not from this page
        alice_uuid = uuid_of(alice)
        alice.page.goto("about:blank")  # ... while alice is away: all of it is history
        texts = [f"m{i:04d}" for i in range(1050)]
        ids = send_texts(fast_server, bob.username, alice_uuid, texts)
        assert ids == sorted(ids)
        alice.page.goto("/")
        alice.expect_online()

        alice.open_conv(bob.username)
        messages = alice.messages()
        expect(messages.last).to_contain_text("m1049")
        listing = alice.page.get_by_test_id("message-list")
        gap = listing.evaluate("(el) => el.scrollHeight - el.scrollTop - el.clientHeight")
        assert gap < 40  # opened at the newest
        assert messages.count() < len(texts)  # a page, not everything at once
        expect(alice.page.get_by_test_id("jump-latest")).to_have_count(0)

        # two live ones while the history is paged in
        send_texts(fast_server, bob.username, alice_uuid, ["live-1"])
        start = alice.page.get_by_test_id("history-start")
        for _ in range(40):
            if start.count():
                break
            before = messages.count()
            listing.evaluate("(el) => { el.scrollTop = 0; }")
            expect(alice.page.get_by_test_id("jump-latest")).to_be_visible()
            alice.page.wait_for_function(
                """(n) => document.querySelectorAll('[data-testid="msg"]').length > n
                          || document.querySelector('[data-testid="history-start"]')""",
                arg=before,
                timeout=WAIT_MS,
            )
        expect(start).to_be_visible()
        send_texts(fast_server, bob.username, alice_uuid, ["live-2"])
        expect(messages.last).to_contain_text("live-2")
        shown = first_and_last_ids(alice.page)
        assert len(shown) == len(texts) + 2
        assert shown == sorted(shown) and len(set(shown)) == len(shown)
        expect(messages.first).to_contain_text("m0000")

        alice.page.get_by_test_id("jump-latest").click()
        expect(alice.page.get_by_test_id("jump-latest")).to_have_count(0)
        expect(messages.last).to_be_in_viewport()
    finally:
        alice.page.context.close()
        bob.page.context.close()
    assert alice.errors + bob.errors == []


def test_reconnect_catches_up_and_marks_missed_messages_unread(
    browser: Browser, fast_server: ChatServer
) -> None:
    alice = register_and_login(browser, fast_server, unique("alice"))
    bob = register_and_login(browser, fast_server, unique("bob"))
    try:
        befriend(alice, bob)
        send_texts(fast_server, bob.username, uuid_of(alice), ["before"])
        badge = alice.page.locator(unread_of(bob.username))
        expect(badge).to_have_attribute("data-count", "1")

        # The connection drops and stays down while bob writes.
        alice.page.evaluate(
            "() => { const s = window.__chatTrio.socket; s.closed = true; s.ws.close(); }"
        )
        expect(alice.page.get_by_test_id("conn-status")).to_have_attribute("data-state", "closed")
        send_texts(fast_server, bob.username, uuid_of(alice), ["missed-1", "missed-2", "missed-3"])
        # The counts must come from the catch-up: the list is not reloaded.
        alice.page.route("**/conversations*", lambda route: route.abort())
        alice.page.evaluate(
            "() => { const s = window.__chatTrio.socket; s.closed = false; s.connect(); }"
        )
        alice.expect_online()
        expect(badge).to_have_attribute("data-count", "4")
        expect(alice.conv(bob.username)).to_contain_text("missed-3")
        alice.page.unroute("**/conversations*")

        alice.open_conv(bob.username)
        expect(alice.messages()).to_have_count(4)
        expect(badge).to_have_count(0)
    finally:
        alice.page.context.close()
        bob.page.context.close()
    assert alice.errors + bob.errors == []


def test_own_message_from_another_device_is_filed_as_own(
    browser: Browser, fast_server: ChatServer
) -> None:
    alice = register_and_login(browser, fast_server, unique("alice"))
    bob = register_and_login(browser, fast_server, unique("bob"))
    users = [alice, bob]
    try:
        befriend(alice, bob)
        phone = second_device(browser, fast_server, alice)
        users.append(phone)
        alice.open_conv(bob.username)
        alice.send_text("from the laptop")
        # the phone files it under bob, as alice's own, with no unread mark
        expect(phone.conv(bob.username)).to_contain_text("from the laptop")
        expect(phone.page.locator(unread_of(bob.username))).to_have_count(0)
        expect(phone.page).to_have_title("chat-trio")
        phone.open_conv(bob.username)
        mine = phone.page.locator('[data-testid="msg"][data-mine="1"]', has_text="from the laptop")
        expect(mine).to_have_count(1)
        expect(phone.page.locator('[data-testid="msg"][data-mine="0"]')).to_have_count(0)
        # and bob sees it as his peer's
        bob.open_conv(alice.username)
        expect(
            bob.page.locator('[data-testid="msg"][data-mine="0"]', has_text="from the laptop")
        ).to_have_count(1)
    finally:
        for u in users:
            u.page.context.close()
    assert [e for u in users for e in u.errors] == []
