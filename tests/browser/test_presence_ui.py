"""Presence, typing, read receipts and mutes in the web client, between real users.

Presence: a friend's dot goes online when their page opens and offline (with "last
seen") when it closes. Typing: "... is typing" appears while the friend types and
clears on a stop, a message, or after the protocol's 6 seconds. Receipts: own messages
show "seen" once the peer opened the chat, "seen by N" in a group on demand, and
nothing once receipts are turned off. Mutes: stored on the server, so they survive a
reload and show on a second device.
"""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Browser, Locator, expect

from .conftest import PASSWORD, WAIT_MS, ChatServer, User, befriend, unique


def presence_of(user: User, name: str) -> Locator:
    return user.conv(name).get_by_test_id("presence")


def own(user: User, text: str) -> Locator:
    return user.page.locator('[data-testid="msg"][data-mine="1"]', has_text=text)


def theirs(user: User, text: str) -> Locator:
    return user.page.locator('[data-testid="msg"][data-mine="0"]', has_text=text)


def test_presence_dot_follows_the_friends_page(make_user: Callable[..., User]) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    befriend(alice, bob)
    expect(presence_of(alice, bob.username)).to_have_attribute("data-online", "1")
    alice.open_conv(bob.username)
    expect(alice.page.get_by_test_id("presence-text")).to_have_text("online")

    bob.page.goto("about:blank")  # bob's only session ends
    expect(presence_of(alice, bob.username)).to_have_attribute("data-online", "0")
    expect(alice.page.get_by_test_id("presence-text")).to_have_text("last seen just now")

    bob.page.goto("/login")  # logged in: straight back to the panel
    bob.expect_online()
    expect(presence_of(alice, bob.username)).to_have_attribute("data-online", "1")
    expect(alice.page.get_by_test_id("presence-text")).to_have_text("online")


def test_presence_after_a_reload_comes_from_the_server(make_user: Callable[..., User]) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    befriend(alice, bob)
    bob.page.goto("about:blank")
    expect(presence_of(alice, bob.username)).to_have_attribute("data-online", "0")
    alice.page.reload()
    alice.expect_online()
    # no frame after the reload: GET /presence tells
    expect(presence_of(alice, bob.username)).to_have_attribute("data-online", "0")
    alice.open_conv(bob.username)
    expect(alice.page.get_by_test_id("presence-text")).to_contain_text("last seen")


def test_typing_shows_and_clears(friends: tuple[User, User]) -> None:
    alice, bob = friends
    typing = alice.page.get_by_test_id("typing")
    box = bob.page.get_by_test_id("message-input")

    box.press_sequentially("hel")
    expect(typing).to_have_text(f"{bob.username} is typing…")
    box.fill("")  # a cleared box sends a stop
    expect(typing).to_have_text("")

    box.press_sequentially("hello")
    expect(typing).to_have_text(f"{bob.username} is typing…")
    bob.page.get_by_test_id("send-button").click()
    expect(theirs(alice, "hello")).to_be_visible()
    expect(typing).to_have_text("")

    # a key and then nothing (no stop, no more starts): gone after the protocol's 6 s
    box.press_sequentially("x")
    expect(typing).to_have_text(f"{bob.username} is typing…")
    expect(typing).to_have_text("", timeout=WAIT_MS)


def test_typing_in_a_group(make_user: Callable[..., User]) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    name = unique("team")
    alice.page.get_by_test_id("menu-open").click()
    alice.page.get_by_test_id("create-group-open").click()
    alice.page.get_by_test_id("group-name").fill(name)
    alice.page.get_by_test_id("create-group-submit").click()
    expect(alice.conv(name)).to_be_visible()
    bob.search(name)
    bob.page.get_by_test_id("join-group").click()
    expect(bob.conv(name)).to_be_visible()
    alice.open_conv(name)
    bob.open_conv(name)

    # the members drawer shows who is online
    alice.page.get_by_test_id("members-open").click()
    member = alice.page.locator(f'[data-testid="member-item"][data-name="{bob.username}"]')
    expect(member.get_by_test_id("presence-text")).to_have_text("online")
    alice.page.keyboard.press("Escape")
    expect(member).to_be_hidden()

    bob.page.get_by_test_id("message-input").press_sequentially("hi all")
    expect(alice.page.get_by_test_id("typing")).to_have_text(f"{bob.username} is typing…")
    bob.page.get_by_test_id("send-button").click()
    expect(alice.page.get_by_test_id("typing")).to_have_text("")

    # "seen by N" on demand: bob has the group open, so he read alice's message
    alice.send_text("welcome")
    expect(theirs(bob, "welcome")).to_be_visible()
    mine = own(alice, "welcome")
    seen_by = mine.get_by_test_id("seen-by")
    with alice.page.expect_response(lambda r: r.url.endswith("/seen")):
        mine.get_by_test_id("seen-by-load").click()
    # bob's read frame may be stored just after the message: ask again until he counts
    for _ in range(20):
        if seen_by.get_attribute("data-count") == "1":
            break
        with alice.page.expect_response(lambda r: r.url.endswith("/seen")):
            seen_by.click()
    expect(seen_by).to_have_attribute("data-count", "1")
    expect(seen_by).to_contain_text(bob.username.capitalize())


def test_seen_when_the_peer_opens_the_chat(make_user: Callable[..., User]) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    befriend(alice, bob)
    alice.open_conv(bob.username)
    alice.send_text("are you there")
    first = own(alice, "are you there")
    expect(first.get_by_test_id("seen")).to_have_count(0)
    expect(bob.conv(alice.username).get_by_test_id("unread")).to_have_attribute("data-count", "1")
    expect(first.get_by_test_id("seen")).to_have_count(0)

    bob.open_conv(alice.username)  # bob reads it: a receipt to alice
    expect(first.get_by_test_id("seen")).to_have_text("seen")

    # after a reload, from the list's peerReadId
    alice.page.reload()
    alice.expect_online()
    alice.open_conv(bob.username)
    expect(own(alice, "are you there").get_by_test_id("seen")).to_have_text("seen")


def test_receipts_off_hides_them_both_ways(friends: tuple[User, User]) -> None:
    alice, bob = friends
    alice.send_text("from alice")
    bob.send_text("from bob")
    expect(own(alice, "from alice").get_by_test_id("seen")).to_be_visible()
    expect(own(bob, "from bob").get_by_test_id("seen")).to_be_visible()

    bob.page.get_by_test_id("profile-button").click()
    switch = bob.page.get_by_test_id("receipts-switch")
    expect(switch).to_have_attribute("aria-checked", "true")
    with bob.page.expect_response(
        lambda r: r.url.endswith("/settings") and r.request.method == "PUT"
    ) as answer:
        switch.click()
    assert answer.value.ok
    expect(switch).to_have_attribute("aria-checked", "false")
    bob.page.keyboard.press("Escape")
    # bob sees nobody's receipts any more
    expect(bob.page.get_by_test_id("seen")).to_have_count(0)

    # and alice no longer sees bob's: not after a reload, not for a new message
    alice.page.reload()
    alice.expect_online()
    alice.open_conv(bob.username)
    expect(own(alice, "from alice")).to_have_attribute("data-status", "sent")
    alice.send_text("second")
    expect(theirs(bob, "second")).to_be_visible()
    expect(alice.page.get_by_test_id("seen")).to_have_count(0)

    # the setting is stored: a reload of bob's page keeps the switch off
    bob.page.reload()
    bob.expect_online()
    bob.page.get_by_test_id("profile-button").click()
    expect(bob.page.get_by_test_id("receipts-switch")).to_have_attribute("aria-checked", "false")


def login_second_device(browser: Browser, server: ChatServer, username: str) -> User:
    context = browser.new_context(base_url=server.url)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.goto("/login")
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    user = User(username, page)
    user.expect_online()
    return user


def test_mute_survives_a_reload_and_shows_on_a_second_device(
    make_user: Callable[..., User], browser: Browser, server: ChatServer
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    befriend(alice, bob)
    alice.open_conv(bob.username)
    toggle = alice.page.get_by_test_id("mute-toggle")
    expect(toggle).to_have_attribute("data-muted", "0")
    toggle.click()
    expect(toggle).to_have_attribute("data-muted", "1")
    expect(alice.conv(bob.username).get_by_test_id("conv-muted")).to_be_visible()

    alice.page.reload()
    alice.expect_online()
    expect(alice.conv(bob.username).get_by_test_id("conv-muted")).to_be_visible()

    phone = login_second_device(browser, server, alice.username)
    try:
        expect(phone.conv(bob.username).get_by_test_id("conv-muted")).to_be_visible()
        # unmuted on the phone: the laptop follows live (the mute frame)
        phone.open_conv(bob.username)
        phone.page.get_by_test_id("mute-toggle").click()
        expect(phone.page.get_by_test_id("mute-toggle")).to_have_attribute("data-muted", "0")
        expect(alice.conv(bob.username).get_by_test_id("conv-muted")).to_have_count(0)
        assert phone.errors == []
    finally:
        phone.page.context.close()


#: Makes the tab report itself hidden when window.__hidden is set, and records every
#: desktop notification the page creates (the real one is still made).
HIDDEN_AND_RECORDED = """
(() => {
  Object.defineProperty(Document.prototype, "hidden", { get: () => !!window.__hidden });
  const Real = window.Notification;
  window.__shown = [];
  class Recorded extends Real {
    constructor(title, options) {
      super(title, options);
      window.__shown.push({ title, body: (options || {}).body || "" });
    }
  }
  window.Notification = Recorded;
})();
"""


def test_desktop_notification_while_hidden_unless_muted(
    make_user: Callable[..., User],
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    befriend(alice, bob)
    alice.page.context.grant_permissions(["notifications"])
    alice.page.add_init_script(HIDDEN_AND_RECORDED)
    alice.page.reload()
    alice.expect_online()
    # the permission is the browser's; the button reports it
    alice.page.get_by_test_id("profile-button").click()
    expect(alice.page.get_by_test_id("notify-permission")).to_have_attribute(
        "data-permission", "granted"
    )
    alice.page.get_by_role("button", name="Cancel").click()
    expect(alice.page.get_by_test_id("notify-permission")).to_be_hidden()
    bob.open_conv(alice.username)

    bob.send_text("visible tab")  # the tab is visible: a toast, no notification
    expect(alice.conv(bob.username).get_by_test_id("unread")).to_have_attribute("data-count", "1")
    assert alice.page.evaluate("() => window.__shown.length") == 0

    alice.page.evaluate("() => { window.__hidden = true; }")
    bob.send_text("hidden tab")
    alice.page.wait_for_function("() => window.__shown.length === 1")
    shown = alice.page.evaluate("() => window.__shown[0]")
    assert shown == {"title": bob.username, "body": "hidden tab"}

    alice.page.evaluate("() => { window.__hidden = false; }")
    alice.open_conv(bob.username)
    alice.page.get_by_test_id("mute-toggle").click()
    expect(alice.page.get_by_test_id("mute-toggle")).to_have_attribute("data-muted", "1")
    alice.page.evaluate("() => { window.__hidden = true; }")
    bob.send_text("while muted")
    expect(theirs(alice, "while muted")).to_be_visible()
    bob.send_text("still muted")
    expect(theirs(alice, "still muted")).to_be_visible()
    assert alice.page.evaluate("() => window.__shown.length") == 1
