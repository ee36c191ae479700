"""A group of three: create, join by name, members, messages to the others."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import expect

from .conftest import User, unique


def test_group_of_three(make_user: Callable[..., User]) -> None:
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    name = unique("trio")

    alice.page.get_by_test_id("menu-open").click()
    alice.page.get_by_test_id("create-group-open").click()
    alice.page.get_by_test_id("group-name").fill(name)
    alice.page.get_by_test_id("group-notice").fill("Three is company")
    alice.page.get_by_test_id("create-group-submit").click()
    expect(alice.conv(name)).to_be_visible()

    for user in (bob, carol):
        user.search(name)
        user.page.get_by_test_id("join-group").click()
        expect(user.conv(name)).to_be_visible()

    alice.open_conv(name)
    alice.page.get_by_test_id("members-open").click()
    members = alice.page.get_by_test_id("member-item")
    expect(members).to_have_count(3)
    names = sorted(m.get_attribute("data-name") or "" for m in members.all())
    assert names == sorted([alice.username, bob.username, carol.username])
    alice.page.keyboard.press("Escape")

    bob.open_conv(name)
    alice.send_text("Welcome, both of you")
    # Bob has the group open; Carol gets an unread mark.
    hello = bob.page.locator('[data-testid="msg"][data-mine="0"]', has_text="Welcome, both")
    expect(hello).to_have_attribute("data-sender", alice.username)
    expect(carol.conv(name).get_by_test_id("unread")).to_have_attribute("data-count", "1")

    bob.send_text("Thanks Alice")
    expect(
        alice.page.locator('[data-testid="msg"][data-mine="0"]', has_text="Thanks Alice")
    ).to_have_attribute("data-sender", bob.username)

    carol.open_conv(name)
    expect(carol.page.get_by_test_id("msg")).to_have_count(2)
    expect(carol.page.locator('[data-testid="msg"]').first).to_have_attribute(
        "data-sender", alice.username
    )
