"""The client in English, Simplified Chinese and Spanish.

Once per language, with the browser set to it: register, log in (and a refused
login, whose text comes from the server's error key), chat, send a file and place
a call, checking that the labels shown are that language's (read from the locale
files, and different from the English ones). Then the language chosen in the
profile follows the user to another device: a second browser whose own language
is English logs in and shows the stored one.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from .axe import assert_accessible
from .conftest import (
    PASSWORD,
    WAIT_MS,
    ChatServer,
    User,
    befriend,
    register_and_login,
    unique,
)

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "web" / "src" / "locales"
#: The README's picture of the client in Chinese. Rewritten only on request
#: (CHAT_TRIO_UPDATE_SCREENSHOT=1), so a test run leaves the tree clean.
SCREENSHOT_ZH = ROOT / "docs" / "screenshot-chat-zh.png"
BROWSER_LOCALE = {"en": "en-US", "zh": "zh-CN", "es": "es-ES"}
#: Ant Design's own text for an empty view, from its locale: switched with ours.
ANTD_EMPTY = {"en": "No data", "zh": "暂无数据", "es": "No hay datos"}


@cache
def _texts(lang: str) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((LOCALES / f"{lang}.json").read_text(encoding="utf-8"))
    return loaded


def text(lang: str, key: str, **values: str) -> str:
    """The text of ``key`` in ``lang`` as shown: values put in, <tags> taken out."""
    node: object = _texts(lang)
    for part in key.split("."):
        assert isinstance(node, dict)
        node = node[part]
    assert isinstance(node, str)
    shown = re.sub(r"</?\w+>", "", node)
    for name, value in values.items():
        shown = shown.replace(f"{{{{{name}}}}}", value)
    return shown


def label(lang: str, key: str, **values: str) -> str:
    """``text``, checked to differ from English in the other languages (else a
    client stuck in English would pass)."""
    shown = text(lang, key, **values)
    if lang != "en":
        assert shown != text("en", key, **values), key
    return shown


@pytest.mark.parametrize("lang", ["en", "zh", "es"])
def test_main_flows_in_each_language(
    browser: Browser, server: ChatServer, make_user: Callable[..., User], lang: str
) -> None:
    locale = BROWSER_LOCALE[lang]
    bob = make_user("bob", locale=locale)
    context = browser.new_context(
        base_url=server.url, locale=locale, permissions=["camera", "microphone"]
    )
    context.set_default_timeout(WAIT_MS)
    try:
        page = context.new_page()
        alice = unique("alice")

        # Register.
        page.goto("/register")
        expect(page.locator("html")).to_have_attribute("lang", locale if lang == "zh" else lang)
        expect(page.get_by_role("heading", level=1)).to_have_text(label(lang, "register.title"))
        expect(page.get_by_test_id("register-submit")).to_have_text(label(lang, "register.submit"))
        expect(page.get_by_text(label(lang, "fields.nickname"), exact=True)).to_be_visible()
        page.get_by_test_id("register-username").fill(alice)
        page.get_by_test_id("register-password").fill(PASSWORD)
        page.get_by_test_id("register-submit").click()
        # Registering logs in, and says so.
        expect(page.locator(".ant-message-success")).to_have_text(
            label(lang, "register2.done", name=alice)
        )
        expect(page.get_by_test_id("panel")).to_be_visible()

        # Log in again: first with a wrong password (the server's key, shown translated).
        context.clear_cookies()
        page.goto("/login")
        expect(page.get_by_test_id("login-submit")).to_have_text(label(lang, "login.submit"))
        page.get_by_test_id("login-username").fill(alice)
        page.get_by_test_id("login-password").fill("not the password")
        page.get_by_test_id("login-submit").click()
        expect(page.locator(".ant-message-error")).to_have_text(
            label(lang, "errors.wrong_credentials")
        )
        page.get_by_test_id("login-password").fill(PASSWORD)
        page.get_by_test_id("login-submit").click()
        status = page.get_by_test_id("conn-status")
        expect(status).to_have_attribute("data-state", "open")
        expect(status).to_have_text(label(lang, "conn.online"))
        empty = page.get_by_test_id("chat-empty")
        expect(empty.locator(".ant-empty-description")).to_have_text(label(lang, "chat.pick"))
        expect(empty.get_by_role("img", name=ANTD_EMPTY[lang])).to_be_attached()

        # Chat.
        search = page.get_by_test_id("search-input")
        expect(search).to_have_attribute("placeholder", label(lang, "search.placeholder"))
        bob.ask_to_be_friends(alice)  # alice's Add below accepts his request
        search.fill(bob.username)
        search.press("Enter")
        expect(page.get_by_test_id("add-friend")).to_have_text(label(lang, "search.addFriend"))
        page.get_by_test_id("add-friend").click()
        page.locator(f'[data-testid="conv-item"][data-name="{bob.username}"]').click()
        expect(page.get_by_test_id("send-button")).to_have_text(label(lang, "chat.send"))
        expect(page.get_by_test_id("message-input")).to_have_attribute(
            "placeholder", label(lang, "chat.placeholder")
        )
        page.get_by_test_id("message-input").fill("hola 你好 hello")
        page.get_by_test_id("send-button").click()
        mine = page.locator('[data-testid="msg"][data-mine="1"]').last
        expect(mine).to_have_attribute("data-status", "sent")
        expect(mine.get_by_test_id("msg-time")).to_have_text(label(lang, "time.justNow"))
        assert_accessible(page, f"a 1:1 chat in {lang}")

        # Send a file: the conversation list says so in the language.
        page.get_by_test_id("file-input").set_input_files(
            {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"agenda\n"}
        )
        named = label(lang, "preview.namedFile", name="notes.txt")
        conv = page.locator(f'[data-testid="conv-item"][data-name="{bob.username}"]')
        expect(conv.locator(".conv-last")).to_have_text(named)
        # Bob's screen reader hears of it in his language; he opens it and has the link.
        expect(bob.page.get_by_test_id("live-region")).to_have_text(
            label(lang, "notify.announce", name=alice, text=named)
        )
        bob.open_conv(alice)
        expect(bob.page.get_by_test_id("msg-file")).to_have_text("notes.txt")

        # Place a call: the panel on both sides, then Bob hangs up.
        bob.page.reload()
        bob.expect_online()
        page.get_by_test_id("call-audio").click()
        expect(page.locator("#call-title")).to_have_text(
            label(lang, "call.dialing", name=bob.username)
        )
        accept = bob.page.get_by_test_id("call-accept")
        expect(accept).to_have_text(label(lang, "call.accept"))
        expect(bob.page.locator("#call-title")).to_have_text(
            label(lang, "call.ringing", name=alice)
        )
        accept.click()
        expect(page.get_by_test_id("call-panel")).to_have_attribute("data-phase", "connected")
        expect(page.locator("#call-title")).to_have_text(
            label(lang, "call.connected", name=bob.username)
        )
        expect(page.get_by_test_id("call-hangup")).to_have_text(label(lang, "call.hangup"))
        bob.page.get_by_test_id("call-hangup").click()
        hung_up = label(lang, "call.hungUp", name=bob.username)
        expect(page.locator(".ant-message-notice", has_text=hung_up)).to_be_visible()
        expect(page.get_by_test_id("call-panel")).to_have_count(0)
    finally:
        context.close()


def _choose_language(page: Page, name: str) -> None:
    page.get_by_test_id("profile-button").click()
    page.get_by_test_id("profile-language").click()
    page.locator(".ant-select-item-option", has_text=name).click()
    page.get_by_test_id("profile-submit").click()
    expect(page.get_by_role("dialog")).to_have_count(0)


def test_the_language_follows_the_user_to_another_device(
    browser: Browser, server: ChatServer, make_user: Callable[..., User]
) -> None:
    alice = make_user("alice", locale="en-US")
    expect(alice.page.get_by_test_id("menu-open")).to_have_attribute("aria-label", "Menu")
    _choose_language(alice.page, "Español")
    expect(alice.page.get_by_test_id("menu-open")).to_have_attribute(
        "aria-label", label("es", "menu.open")
    )
    expect(alice.page.get_by_test_id("conn-status")).to_have_text(label("es", "conn.online"))
    assert alice.page.evaluate("fetch('/user/me').then(r => r.json())")["data"]["language"] == "es"

    # Another device, its browser in English: the login page is English (nobody is
    # known yet), and after logging in everything is Spanish.
    other = browser.new_context(base_url=server.url, locale="en-US")
    other.set_default_timeout(WAIT_MS)
    try:
        page = other.new_page()
        page.goto("/login")
        expect(page.get_by_test_id("login-submit")).to_have_text(text("en", "login.submit"))
        page.get_by_test_id("login-username").fill(alice.username)
        page.get_by_test_id("login-password").fill(PASSWORD)
        page.get_by_test_id("login-submit").click()
        expect(page.get_by_test_id("conn-status")).to_have_text(label("es", "conn.online"))
        expect(page.locator(".chat-empty .ant-empty-description")).to_have_text(
            label("es", "chat.pick")
        )
        expect(page.locator("html")).to_have_attribute("lang", "es")
        # Chosen again there, it comes back on the first device after a reload.
        _choose_language(page, "简体中文")
        expect(page.get_by_test_id("conn-status")).to_have_text(label("zh", "conn.online"))
    finally:
        other.close()
    alice.page.reload()
    expect(alice.page.get_by_test_id("conn-status")).to_have_text(label("zh", "conn.online"))


def test_register_then_log_in_in_chinese(browser: Browser, server: ChatServer) -> None:
    """register_and_login, the other tests' way in, works in any language."""
    user = register_and_login(browser, server, unique("li"), locale="zh-CN")
    try:
        expect(user.page.get_by_test_id("profile-button")).to_have_attribute(
            "aria-label", label("zh", "menu.profile")
        )
    finally:
        user.page.context.close()


def test_chat_in_chinese_screenshot(make_user: Callable[..., User], tmp_path: Path) -> None:
    """A conversation between two Chinese browsers, as the README shows it."""
    li = make_user("li", locale="zh-CN")
    wang = make_user("wang", locale="zh-CN")
    befriend(li, wang)
    li.open_conv(wang.username)
    wang.open_conv(li.username)
    li.send_text("你好！今晚七点开会，别忘了 🙂")  # noqa: RUF001 (Chinese punctuation)
    expect(wang.page.locator('[data-testid="msg"][data-mine="0"]', has_text="今晚")).to_be_visible()
    wang.send_text("收到，我会准时到。")  # noqa: RUF001 (Chinese punctuation)
    expect(li.page.locator('[data-testid="msg"][data-mine="0"]', has_text="收到")).to_be_visible()
    li.page.get_by_test_id("file-input").set_input_files(
        {"name": "会议议程.txt", "mimeType": "text/plain", "buffer": "议程\n".encode()}
    )
    expect(li.page.locator('[data-testid="msg"][data-status="sent"]')).to_have_count(3)
    expect(li.page.get_by_test_id("send-button")).to_have_text(label("zh", "chat.send"))
    expect(li.page.locator(".ant-message-notice")).to_have_count(0)
    shot = (
        SCREENSHOT_ZH if os.environ.get("CHAT_TRIO_UPDATE_SCREENSHOT") else tmp_path / "zh.png"
    )
    li.page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank one


@pytest.mark.parametrize(
    ("lang", "five_minutes_ago"), [("zh", "5分钟前"), ("es", "hace 5 minutos")]
)
def test_message_times_move_on_in_the_language(
    make_user: Callable[..., User], lang: str, five_minutes_ago: str
) -> None:
    """A message's time reads "just now", then, five minutes on (the page's clock
    moved by Playwright), Intl's "5 minutes ago" in the reader's language."""
    bob = make_user("bob")
    alice = make_user("alice", locale=BROWSER_LOCALE[lang])
    alice.page.clock.install()
    alice.page.reload()
    alice.expect_online()
    befriend(bob, alice)  # alice accepts: her page, on the installed clock, is not reloaded
    alice.open_conv(bob.username)
    alice.send_text("tick")
    time = alice.page.get_by_test_id("msg-time").last
    expect(time).to_have_text(label(lang, "time.justNow"))
    alice.page.clock.fast_forward("05:00")
    expect(time).to_have_text(five_minutes_ago)


def test_a_language_picked_before_logging_in_stays_with_the_browser(
    browser: Browser, server: ChatServer
) -> None:
    """Picked on the login page of an English browser: the page turns Spanish, and so
    does the app after logging in as a user who stored no choice, and after a reload."""
    user = register_and_login(browser, server, unique("ana"), locale="en-US")
    try:
        page = user.page
        page.get_by_test_id("menu-open").click()
        page.get_by_test_id("logout").click()
        expect(page.get_by_test_id("login-submit")).to_have_text(text("en", "login.submit"))
        page.get_by_test_id("auth-language").click()
        page.locator(".ant-select-item-option", has_text="Español").click()
        expect(page.get_by_test_id("login-submit")).to_have_text(label("es", "login.submit"))
        page.get_by_test_id("login-username").fill(user.username)
        page.get_by_test_id("login-password").fill(PASSWORD)
        page.get_by_test_id("login-submit").click()
        expect(page.get_by_test_id("conn-status")).to_have_text(label("es", "conn.online"))
        page.reload()
        expect(page.get_by_test_id("conn-status")).to_have_text(label("es", "conn.online"))
    finally:
        user.page.context.close()
