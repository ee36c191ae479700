"""A call to a user logged in on two devices: both ring; when one answers or
declines, the other stops ringing and says why; a peer that goes away ends the
call with a note."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from .conftest import ChatServer, User, second_device
from .test_calls import CONNECTED, dial


@pytest.fixture
def two_devices(
    browser: Browser, server: ChatServer, friends: tuple[User, User]
) -> Iterator[tuple[User, User, User]]:
    """Alice calls; Bob is on a laptop (friends' page) and a phone."""
    alice, bob = friends
    phone = second_device(browser, server, bob, permissions=["camera", "microphone"])
    try:
        yield alice, bob, phone
    finally:
        phone.page.context.close()
    assert phone.errors == []


def ring_both(alice: User, laptop: User, phone: User) -> None:
    dial(alice, laptop, "audio")
    expect(phone.page.get_by_test_id("call-panel")).to_have_attribute("data-phase", "ringing")


def test_answer_on_one_device_stops_the_other(two_devices: tuple[User, User, User]) -> None:
    alice, laptop, phone = two_devices
    ring_both(alice, laptop, phone)
    laptop.page.get_by_test_id("call-accept").click()
    expect(phone.page.get_by_test_id("call-panel")).to_have_count(0)
    expect(
        phone.page.locator(".ant-message-notice", has_text="answered on another device")
    ).to_be_visible()
    for user in (alice, laptop):
        user.page.wait_for_function(CONNECTED)
        expect(user.page.get_by_test_id("call-panel")).to_have_attribute("data-phase", "connected")
    assert phone.page.evaluate("window.__chatTrio.pc") is None


def test_decline_on_one_device_stops_the_other(two_devices: tuple[User, User, User]) -> None:
    alice, laptop, phone = two_devices
    ring_both(alice, laptop, phone)
    phone.page.get_by_test_id("call-reject").click()
    expect(
        laptop.page.locator(".ant-message-notice", has_text="declined on another device")
    ).to_be_visible()
    for user in (alice, laptop, phone):
        expect(user.page.get_by_test_id("call-panel")).to_have_count(0)
    expect(alice.page.locator(".ant-message-notice", has_text="declined the call")).to_be_visible()


def test_peer_that_goes_away_ends_the_call(friends: tuple[User, User]) -> None:
    alice, bob = friends
    dial(alice, bob, "audio")
    bob.page.get_by_test_id("call-accept").click()
    alice.page.wait_for_function(CONNECTED)
    bob.page.close()  # the device in the call goes away
    note = alice.page.locator(".ant-message-notice", has_text="lost the connection")
    expect(note).to_be_visible()
    expect(alice.page.get_by_test_id("call-panel")).to_have_count(0)
