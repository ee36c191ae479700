"""Accounts, friends and one-to-one chat: text, emoji, pasted images, files,
voice and video messages, unread marks, profile and the phone layout."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Browser, Locator, expect

from .conftest import PASSWORD, ROOT, ChatServer, User, befriend, unique
from .media import png

#: The README's picture of the chat view. Rewritten only on request
#: (CHAT_TRIO_UPDATE_SCREENSHOT=1), so a test run leaves the tree clean.
SCREENSHOT = ROOT / "docs" / "screenshot-chat.png"


def incoming(user: User, text: str = "") -> Locator:
    sel = '[data-testid="msg"][data-mine="0"]'
    return user.page.locator(sel, has_text=text) if text else user.page.locator(sel)


def test_chat_both_ways(friends: tuple[User, User], tmp_path: Path) -> None:
    alice, bob = friends
    alice.send_text("Hello Bob, are you there?")
    expect(incoming(bob, "Hello Bob, are you there?")).to_be_visible()
    bob.send_text("Yes! Hi Alice.")
    expect(incoming(alice, "Yes! Hi Alice.")).to_be_visible()

    # An emoji from the picker goes into the text.
    alice.page.get_by_test_id("message-input").fill("See you ")
    alice.page.get_by_test_id("emoji-open").click()
    emoji = alice.page.get_by_test_id("emoji-item").first
    glyph = emoji.inner_text()
    emoji.click()
    expect(alice.page.get_by_test_id("message-input")).to_have_value(f"See you {glyph}")
    alice.page.get_by_test_id("send-button").click()
    expect(incoming(bob, f"See you {glyph}")).to_be_visible()

    # History comes back when the conversation opens again.
    bob.page.reload()
    bob.expect_online()
    bob.open_conv(alice.username)
    expect(bob.messages()).to_have_count(3)
    expect(bob.messages().nth(1)).to_have_attribute("data-mine", "1")

    expect(alice.page.locator(".ant-message-notice")).to_have_count(0)
    expect(
        alice.page.locator('[data-testid="msg"][data-mine="1"][data-status="sent"]')
    ).to_have_count(2)
    shot = SCREENSHOT if os.environ.get("CHAT_TRIO_UPDATE_SCREENSHOT") else tmp_path / "chat.png"
    alice.page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank one


def test_paste_image_shows_inline(friends: tuple[User, User]) -> None:
    alice, bob = friends
    alice.page.get_by_test_id("message-input").evaluate(
        """(el, bytes) => {
            const dt = new DataTransfer();
            dt.items.add(new File([new Uint8Array(bytes)], "shot.png", {type: "image/png"}));
            el.dispatchEvent(new ClipboardEvent("paste",
                {clipboardData: dt, bubbles: true, cancelable: true}));
        }""",
        list(png()),
    )
    mine = alice.page.locator('[data-testid="msg"][data-mine="1"][data-content-type="3"]')
    expect(mine).to_have_attribute("data-status", "sent")
    image = bob.page.get_by_test_id("msg-image")
    expect(image).to_be_visible()
    image.evaluate(
        """img => new Promise((ok, fail) => {
            if (img.complete && img.naturalWidth > 0) return ok();
            img.onload = ok; img.onerror = () => fail(new Error("image did not load"));
        })"""
    )
    assert image.evaluate("img => img.naturalWidth") == 16


def test_upload_file_becomes_a_download_link(friends: tuple[User, User]) -> None:
    alice, bob = friends
    body = b"minutes of the meeting\n" * 20
    alice.page.get_by_test_id("file-input").set_input_files(
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": body}
    )
    link = bob.page.get_by_test_id("msg-file")
    expect(link).to_have_text("notes.txt")
    href = link.get_attribute("href")
    assert href
    assert href.startswith("/file/")
    answer = bob.page.request.get(href)
    assert answer.ok
    assert answer.body() == body


def record(user: User, testid: str) -> None:
    button = user.page.get_by_test_id(testid)
    button.click()
    expect(button).to_have_attribute("data-recording", "1")
    # Wait until the recorder has handed over a few chunks of media.
    user.page.wait_for_function(
        "id => Number(document.querySelector(`[data-testid=${id}]`).dataset.chunks) >= 3",
        arg=testid,
    )
    button.click()
    expect(button).to_have_attribute("data-recording", "0")


def test_voice_and_video_messages(friends: tuple[User, User]) -> None:
    alice, bob = friends
    record(alice, "record-voice")
    audio = bob.page.get_by_test_id("msg-audio")
    expect(audio).to_be_visible()
    audio.evaluate(
        """a => new Promise((ok, fail) => {
            if (a.readyState >= 1) return ok();
            a.onloadedmetadata = ok; a.onerror = () => fail(new Error("audio did not load"));
        })"""
    )

    record(alice, "record-video")
    video = bob.page.get_by_test_id("msg-video")
    expect(video).to_be_visible()
    video.evaluate(
        """v => new Promise((ok, fail) => {
            if (v.readyState >= 1) return ok();
            v.onloadedmetadata = ok; v.onerror = () => fail(new Error("video did not load"));
        })"""
    )
    assert video.evaluate("v => v.videoWidth") > 0
    expect(
        alice.page.locator('[data-testid="msg"][data-mine="1"][data-status="sent"]')
    ).to_have_count(2)


def test_unread_mark_and_notification(
    friends: tuple[User, User], make_user: Callable[..., User]
) -> None:
    alice, _bob = friends
    carol = make_user("carol")
    befriend(carol, alice)
    carol.open_conv(alice.username)
    carol.send_text("psst, Alice")
    # Alice has Bob open: Carol's conversation appears with an unread mark.
    unread = alice.conv(carol.username).get_by_test_id("unread")
    expect(unread).to_have_attribute("data-count", "1")
    expect(alice.page.locator(".ant-notification-notice", has_text="psst, Alice")).to_be_visible()
    carol.send_text("are you busy?")
    expect(unread).to_have_attribute("data-count", "2")
    expect(alice.page).to_have_title("(2) chat-trio")
    alice.open_conv(carol.username)
    expect(unread).to_have_count(0)
    expect(alice.page).to_have_title("chat-trio")
    expect(incoming(alice)).to_have_count(2)


def test_find_user_and_group_by_name(friends: tuple[User, User]) -> None:
    alice, bob = friends
    alice.search(bob.username)
    expect(alice.page.get_by_test_id("search-result-user")).to_be_visible()
    box = alice.page.get_by_test_id("search-input")
    box.fill("nobody-with-this-name")
    box.press("Enter")
    notice = alice.page.locator(".ant-message-notice", has_text="nobody-with-this-name")
    expect(notice).to_be_visible()


def test_server_reason_is_shown(make_user: Callable[..., User], server: ChatServer) -> None:
    alice = make_user("alice")
    page = alice.page.context.new_page()
    page.goto("/register")
    page.get_by_test_id("register-username").fill(alice.username)
    page.get_by_test_id("register-password").fill(PASSWORD)
    page.get_by_test_id("register-submit").click()
    error = page.locator(".ant-message-error")
    expect(error).to_be_visible()
    assert error.inner_text().strip() not in ("", "SUCCESS")
    expect(page).to_have_url(f"{server.url}/register")


def test_profile_edit_and_avatar(make_user: Callable[..., User]) -> None:
    alice = make_user("alice")
    page = alice.page
    page.get_by_test_id("menu-open").click()
    page.get_by_test_id("profile-open").click()
    page.get_by_test_id("profile-nickname").fill("Queen Alice")
    page.get_by_test_id("profile-email").fill("alice@example.org")
    page.get_by_test_id("profile-submit").click()
    expect(page.get_by_test_id("me-name")).to_have_text("Queen Alice")

    page.get_by_test_id("menu-open").click()
    page.get_by_test_id("profile-open").click()
    page.get_by_test_id("avatar-input").set_input_files(
        {"name": "me.png", "mimeType": "image/png", "buffer": png(32, 32, (20, 120, 220))}
    )
    avatar = page.locator('[data-testid="me-avatar"] img')
    expect(avatar).to_have_attribute("src", _starts_with("/file/"))

    page.reload()
    expect(page.get_by_test_id("me-name")).to_have_text("Queen Alice")
    expect(avatar).to_be_visible()
    assert avatar.evaluate("img => img.complete && img.naturalWidth") == 32


def test_new_password_works(make_user: Callable[..., User]) -> None:
    alice = make_user("alice")
    page = alice.page
    page.get_by_test_id("menu-open").click()
    page.get_by_test_id("profile-open").click()
    page.get_by_test_id("profile-password").fill("a much newer password")
    page.get_by_test_id("profile-submit").click()
    # the server wants the current password with a new one: the form asks for it first
    expect(page.get_by_text("Enter your current password to set a new one")).to_be_visible()
    page.get_by_test_id("profile-old-password").fill(PASSWORD)
    page.get_by_test_id("profile-submit").click()
    expect(page.locator(".ant-message-success", has_text="Profile saved")).to_be_visible()
    page.get_by_test_id("menu-open").click()
    page.get_by_test_id("logout").click()
    expect(page.get_by_test_id("login-username")).to_be_visible()
    page.get_by_test_id("login-username").fill(alice.username)
    page.get_by_test_id("login-password").fill("a much newer password")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("panel")).to_be_visible()


def test_phone_layout(make_user: Callable[..., User]) -> None:
    phone = {"viewport": {"width": 375, "height": 740}, "is_mobile": True, "has_touch": True}
    alice = make_user("alice", **phone)
    bob = make_user("bob")
    befriend(alice, bob)
    page = alice.page
    expect(page.get_by_test_id("chat")).to_have_count(0)
    alice.open_conv(bob.username)
    expect(page.get_by_test_id("sidebar")).to_have_count(0)
    alice.send_text("from my phone")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375
    page.get_by_test_id("back-button").click()
    expect(page.get_by_test_id("sidebar")).to_be_visible()


def _starts_with(prefix: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(prefix))


def test_refused_message_is_marked_failed(friends: tuple[User, User]) -> None:
    alice, bob = friends
    alice.page.get_by_test_id("message-input").fill("x" * 10_001)
    alice.page.get_by_test_id("send-button").click()
    mine = alice.page.locator('[data-testid="msg"][data-mine="1"]').last
    expect(mine).to_have_attribute("data-status", "failed")
    expect(alice.page.locator(".ant-message-error")).to_be_visible()
    # The connection stays usable.
    alice.send_text("a shorter one")
    expect(incoming(bob, "a shorter one")).to_be_visible()
    expect(incoming(bob)).to_have_count(1)


def test_session_from_the_cookie_alone(friends: tuple[User, User]) -> None:
    alice, bob = friends
    alice.page.evaluate("localStorage.clear()")
    alice.page.reload()
    alice.expect_online()
    alice.open_conv(bob.username)
    alice.send_text("no token, only the cookie")
    expect(incoming(bob, "no token, only the cookie")).to_be_visible()


def test_the_token_stays_in_the_httponly_cookie(browser: Browser, server: ChatServer) -> None:
    """The client keeps no token where page scripts or proxy logs would see it: not in
    localStorage, not in the socket URL, not in an Authorization header."""
    context = browser.new_context(base_url=server.url)
    try:
        page = context.new_page()
        sockets: list[str] = []
        bearer: list[str] = []
        page.on("websocket", lambda ws: sockets.append(ws.url))
        page.on(
            "request",
            lambda r: bearer.append(r.url) if "authorization" in r.headers else None,
        )
        username = unique("cookie")
        page.goto("/register")
        page.get_by_test_id("register-username").fill(username)
        page.get_by_test_id("register-password").fill(PASSWORD)
        page.get_by_test_id("register-submit").click()  # registering logs in
        expect(page.get_by_test_id("conn-status")).to_have_attribute("data-state", "open")
        token = next(c["value"] for c in context.cookies() if c.get("httpOnly"))
        assert token
        stored = page.evaluate(
            "() => JSON.stringify([{...localStorage}, {...sessionStorage}, document.cookie])"
        )
        assert token not in stored and "token" not in stored.lower()
        assert sockets and all("token=" not in url for url in sockets), sockets
        assert bearer == []
    finally:
        context.close()


def test_heartbeat_is_answered(friends: tuple[User, User]) -> None:
    alice, _bob = friends
    # The client pings every heartbeatSeconds (10 s); the server answers each.
    alice.page.wait_for_function("() => (window.__chatTrio.pongs || 0) >= 1")


def test_inline_file_from_an_older_client(friends: tuple[User, User]) -> None:
    alice, bob = friends
    # go-chat's client sent small files as a data URL in content (type 2).
    bob_uuid = bob.page.evaluate("window.__chatTrio.me.uuid")
    sent = alice.page.evaluate(
        """to => window.__chatTrio.sendRaw({
            to, messageType: 1, contentType: 2,
            content: "data:text/plain;base64,aGVsbG8gZnJvbSAyMDIx",
        })""",
        bob_uuid,
    )
    assert sent is True
    link = bob.page.get_by_test_id("msg-file")
    expect(link).to_be_visible()
    href = link.get_attribute("href")
    assert href
    body = bob.page.evaluate("href => fetch(href).then(r => r.text())", href)
    assert body == "hello from 2021"


def test_routes(make_user: Callable[..., User], server: ChatServer, browser: Browser) -> None:
    alice = make_user("alice")
    uuid = alice.page.evaluate("() => window.__chatTrio.me.uuid")
    page = alice.page
    for path in ("/", "/login", "/panel/someone-else"):
        page.goto(path)
        expect(page).to_have_url(f"{server.url}/panel/{uuid}")
        alice.expect_online()
    # Without a session every route leads to the login form.
    stranger = browser.new_context(base_url=server.url)
    try:
        other = stranger.new_page()
        for path in ("/", "/panel/" + uuid):
            other.goto(path)
            expect(other).to_have_url(f"{server.url}/login")
        other.goto("/register")
        expect(other.get_by_test_id("register-username")).to_be_visible()
    finally:
        stranger.close()


def test_too_large_file_is_refused(friends: tuple[User, User]) -> None:
    alice, _bob = friends
    limit = alice.page.evaluate("() => fetch('/client-config').then(r => r.json())")["data"][
        "maxUploadBytes"
    ]
    alice.page.get_by_test_id("file-input").set_input_files(
        {"name": "huge.bin", "mimeType": "application/octet-stream", "buffer": b"\0" * (limit + 1)}
    )
    expect(alice.page.locator(".ant-message-error", has_text="too large")).to_be_visible()
    expect(alice.messages()).to_have_count(0)
