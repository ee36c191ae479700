"""The call panel during a call: it leaves the composer usable, mutes the
microphone, turns the camera off, shows a running timer and can be enlarged;
and registering logs straight in."""

from __future__ import annotations

from collections.abc import Callable

from playwright._impl._api_structures import FloatRect
from playwright.sync_api import expect

from .conftest import PASSWORD, ChatServer, User, unique
from .test_calls import connect

TRACKS_ENABLED = """kind => window.__chatTrio.calls.localStream.getTracks()
    .filter(t => t.kind === kind).map(t => t.enabled)"""


def boxes_overlap(a: FloatRect, b: FloatRect) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def test_composer_stays_usable_during_a_call(friends: tuple[User, User]) -> None:
    alice, bob = friends
    connect(alice, bob, "video")
    for large in (False, True):
        if large:
            alice.page.get_by_test_id("call-enlarge").click()
            expect(alice.page.get_by_test_id("call-panel")).to_have_attribute("data-large", "1")
        panel = alice.page.get_by_test_id("call-panel").bounding_box()
        send = alice.page.get_by_test_id("send-button").bounding_box()
        box = alice.page.get_by_test_id("message-input").bounding_box()
        assert panel and send and box
        assert not boxes_overlap(panel, send), (panel, send)
        assert not boxes_overlap(panel, box), (panel, box)
        alice.send_text(f"during the call {large}")
    # Enlarged, the panel is wider than the small one.
    large_box = alice.page.get_by_test_id("call-panel").bounding_box()
    alice.page.get_by_test_id("call-enlarge").click()
    expect(alice.page.get_by_test_id("call-panel")).to_have_attribute("data-large", "0")
    small_box = alice.page.get_by_test_id("call-panel").bounding_box()
    assert large_box and small_box and large_box["width"] > small_box["width"]


def test_mute_camera_off_and_timer(friends: tuple[User, User]) -> None:
    alice, bob = friends
    connect(alice, bob, "video")
    page = alice.page
    assert page.evaluate(TRACKS_ENABLED, "audio") == [True]
    page.get_by_test_id("call-mute").click()
    expect(page.get_by_test_id("call-mute")).to_have_attribute("aria-pressed", "true")
    assert page.evaluate(TRACKS_ENABLED, "audio") == [False]
    page.get_by_test_id("call-mute").click()
    assert page.evaluate(TRACKS_ENABLED, "audio") == [True]

    page.get_by_test_id("call-camera").click()
    expect(page.get_by_test_id("call-camera")).to_have_attribute("aria-pressed", "true")
    assert page.evaluate(TRACKS_ENABLED, "video") == [False]

    timer = page.get_by_test_id("call-timer")
    start = int(timer.get_attribute("data-seconds") or "0")
    later = start + 1
    expect(timer).to_have_attribute("data-seconds", str(later))
    expect(timer).to_have_text(f"0:{later:02d}")


def test_registering_logs_in(make_user: Callable[..., User], server: ChatServer) -> None:
    page = make_user("reg").page.context.new_page()
    name = unique("fresh")
    page.goto("/register")
    page.get_by_test_id("register-username").fill(name)
    page.get_by_test_id("register-password").fill(PASSWORD)
    page.get_by_test_id("register-submit").click()
    expect(page.get_by_test_id("panel")).to_be_visible()
    expect(page.get_by_test_id("login-username")).to_have_count(0)
    me = page.evaluate("window.__chatTrio.me.username")
    assert me == name
