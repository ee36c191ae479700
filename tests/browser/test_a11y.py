"""Accessibility: axe-core finds no serious or critical violation on the login page,
the conversation list, a 1:1 chat, a group, the call panel and the profile dialog;
and the app works with the keyboard alone (log in, open a conversation, send, open
and close the emoji picker and the profile), with new messages announced through a
polite live region."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Browser, Page, expect

from .axe import assert_accessible
from .conftest import PASSWORD, WAIT_MS, ChatServer, User, befriend, unique

#: The most Tab presses to reach anything: a bound on the focus order's length.
MAX_TABS = 40


def tab_to(page: Page, selector: str, *, back: bool = False) -> None:
    """Press Tab (Shift+Tab when ``back``) until the focus is on ``selector``."""
    for _ in range(MAX_TABS):
        if page.evaluate("s => !!document.activeElement?.matches(s)", selector):
            return
        page.keyboard.press("Shift+Tab" if back else "Tab")
    focused = page.evaluate("() => document.activeElement?.outerHTML.slice(0, 200)")
    raise AssertionError(f"{MAX_TABS} Tab presses did not reach {selector}; at {focused}")


def focus_is_visible(page: Page) -> bool:
    """The focused element draws an outline (the :focus-visible style)."""
    return bool(
        page.evaluate(
            """() => {
                const s = getComputedStyle(document.activeElement);
                return s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2;
            }"""
        )
    )


def test_axe_finds_no_serious_violations(
    browser: Browser, server: ChatServer, make_user: Callable[..., User]
) -> None:
    context = browser.new_context(base_url=server.url)
    try:
        page = context.new_page()
        page.goto("/login")
        expect(page.get_by_test_id("login-username")).to_be_focused()
        assert_accessible(page, "the login page")
    finally:
        context.close()

    alice, bob = make_user("alice"), make_user("bob")
    befriend(bob, alice)  # alice's Add accepts: her page shows the search result
    assert_accessible(alice.page, "the conversation list with a search result")

    name = unique("club")
    alice.page.get_by_test_id("menu-open").click()
    alice.page.get_by_test_id("create-group-open").click()
    alice.page.get_by_test_id("group-name").fill(name)
    alice.page.get_by_test_id("create-group-submit").click()
    expect(alice.conv(name)).to_be_visible()
    expect(alice.page.get_by_role("dialog")).to_have_count(0)
    assert_accessible(alice.page, "the conversation list")

    alice.open_conv(bob.username)
    alice.send_text("hello, accessible world")
    assert_accessible(alice.page, "a 1:1 chat")

    alice.open_conv(name)
    alice.send_text("hello, group")
    assert_accessible(alice.page, "a group")

    alice.open_conv(bob.username)
    bob.page.reload()
    bob.expect_online()
    alice.page.get_by_test_id("call-audio").click()
    expect(bob.page.get_by_test_id("call-panel")).to_have_attribute("data-phase", "ringing")
    assert_accessible(alice.page, "the call panel, dialing")
    assert_accessible(bob.page, "the call panel, ringing")
    alice.page.get_by_test_id("call-cancel").click()
    expect(bob.page.get_by_test_id("call-panel")).to_have_count(0)

    alice.page.get_by_test_id("profile-button").click()
    expect(alice.page.get_by_test_id("profile-nickname")).to_be_visible()
    assert_accessible(alice.page, "the profile dialog")


def test_keyboard_only(
    browser: Browser, server: ChatServer, make_user: Callable[..., User]
) -> None:
    """Log in, open a conversation, send, pick an emoji, close the picker and the
    profile: no mouse, every step by Tab, Enter, arrows and Escape."""
    bob = make_user("bob")
    username = unique("kim")
    context = browser.new_context(base_url=server.url)
    context.set_default_timeout(WAIT_MS)
    try:
        page = context.new_page()
        page.request.post(
            "/user/register", data={"username": username, "password": PASSWORD}
        )
        page.goto("/login")
        # Log in: the username field has the focus, Tab to the password, Enter submits.
        expect(page.get_by_test_id("login-username")).to_be_focused()
        page.keyboard.type(username)
        page.keyboard.press("Tab")
        expect(page.get_by_test_id("login-password")).to_be_focused()
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        expect(page.get_by_test_id("conn-status")).to_have_attribute("data-state", "open")

        # Find Bob and add him (he asked first, so this accepts): Tab to the search box,
        # type, Enter, Tab to the button.
        bob.ask_to_be_friends(username)
        tab_to(page, '[data-testid="search-input"] input, input[data-testid="search-input"]')
        page.keyboard.type(bob.username)
        page.keyboard.press("Enter")
        expect(page.get_by_test_id("add-friend")).to_be_visible()
        tab_to(page, '[data-testid="add-friend"]')
        assert focus_is_visible(page)
        page.keyboard.press("Enter")
        conv = page.locator(f'[data-testid="conv-item"][data-name="{bob.username}"]')
        expect(conv).to_be_visible()

        # Open the conversation from the list.
        tab_to(page, f'[data-name="{bob.username}"] [data-testid="conv-open"]')
        assert focus_is_visible(page)
        page.keyboard.press("Enter")
        expect(page.get_by_test_id("chat")).to_have_attribute("data-conv", bob.username)

        # Send with Enter.
        tab_to(page, '[data-testid="message-input"]')
        page.keyboard.type("typed, not clicked")
        page.keyboard.press("Enter")
        sent = page.locator('[data-testid="msg"][data-mine="1"]', has_text="typed, not clicked")
        expect(sent).to_have_attribute("data-status", "sent")
        expect(page.get_by_test_id("message-input")).to_have_value("")

        # The emoji picker: Enter opens it with the focus on the first emoji, an
        # arrow moves, Enter picks and closes it (focus back in the message box).
        tab_to(page, '[data-testid="emoji-open"]', back=True)
        page.keyboard.press("Enter")
        first = page.get_by_test_id("emoji-item").first
        expect(first).to_be_focused()
        page.keyboard.press("ArrowRight")
        expect(page.get_by_test_id("emoji-item").nth(1)).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.get_by_test_id("emoji-grid")).to_be_hidden()
        expect(page.get_by_test_id("message-input")).to_be_focused()
        expect(page.get_by_test_id("message-input")).to_have_value("😁")
        # ... and Escape closes it, the focus back on its button.
        tab_to(page, '[data-testid="emoji-open"]', back=True)
        page.keyboard.press("Enter")
        expect(first).to_be_focused()
        page.keyboard.press("Escape")
        expect(page.get_by_test_id("emoji-grid")).to_be_hidden()
        expect(page.get_by_test_id("emoji-open")).to_be_focused()

        # The profile: a button in the header; Escape closes the dialog.
        tab_to(page, '[data-testid="profile-button"]', back=True)
        page.keyboard.press("Enter")
        dialog = page.get_by_role("dialog")
        expect(dialog).to_be_visible()
        expect(page.get_by_test_id("profile-nickname")).to_be_visible()
        expect(page.get_by_test_id("profile-nickname")).to_be_focused()
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
    finally:
        context.close()


def test_escape_ends_a_call(friends: tuple[User, User]) -> None:
    """Escape rejects a ringing call and cancels a dial; the panel takes the focus."""
    alice, bob = friends
    alice.page.get_by_test_id("call-audio").click()
    expect(alice.page.get_by_test_id("call-cancel")).to_be_focused()
    expect(bob.page.get_by_test_id("call-panel")).to_have_attribute("data-phase", "ringing")
    expect(bob.page.get_by_test_id("call-accept")).to_be_focused()
    bob.page.keyboard.press("Escape")
    for user in (alice, bob):
        expect(user.page.get_by_test_id("call-panel")).to_have_count(0)

    alice.page.get_by_test_id("call-audio").click()
    expect(bob.page.get_by_test_id("call-panel")).to_have_attribute("data-phase", "ringing")
    alice.page.keyboard.press("Escape")
    for user in (alice, bob):
        expect(user.page.get_by_test_id("call-panel")).to_have_count(0)


def test_new_messages_are_announced_politely(friends: tuple[User, User]) -> None:
    alice, bob = friends
    region = alice.page.get_by_test_id("live-region")
    expect(region).to_have_attribute("aria-live", "polite")
    bob.send_text("can you hear me")
    expect(region).to_have_text(f"New message from {bob.username}: can you hear me")
