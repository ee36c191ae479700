"""Friend requests in the browser: a first Add asks, the other side is told at
once and accepts with its own Add, and the asker's list follows without a reload."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import expect

from .conftest import User


def test_a_request_is_announced_and_its_acceptance_reaches_the_asker_live(
    make_user: Callable[..., User],
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    alice.ask_to_be_friends(bob.username)
    notices = ".ant-message-notice"
    expect(alice.page.locator(notices, has_text="Friend request sent")).to_be_visible()
    # a request alone makes no conversation on either side
    expect(alice.conv(bob.username)).to_have_count(0)
    asked = f"{alice.username} wants to be your friend"
    expect(bob.page.locator(notices, has_text=asked)).to_be_visible()
    expect(bob.conv(alice.username)).to_have_count(0)

    bob.find_and_add_friend(alice.username)
    expect(alice.conv(bob.username)).to_be_visible()
    accepted = f"{bob.username} is now your friend"
    expect(alice.page.locator(notices, has_text=accepted)).to_be_visible()
