"""Audio and video calls between two pages: dial, accept, reject, cancel,
WebRTC through the server's signaling, screen sharing, and the JPEG frames an
older client sends."""

from __future__ import annotations

from playwright.sync_api import expect

from .conftest import User

CONNECTED = "() => !!window.__chatTrio.pc && window.__chatTrio.pc.connectionState === 'connected'"
REMOTE_VIDEO_RATIO = """ratio => {
    const v = document.querySelector('[data-testid="remote-video"]');
    return !!v && v.videoWidth > 0 && Math.abs(v.videoWidth / v.videoHeight - ratio) < 0.05;
}"""


def dial(caller: User, callee: User, kind: str) -> None:
    caller.page.get_by_test_id(f"call-{kind}").click()
    expect(caller.page.get_by_test_id("call-panel")).to_have_attribute("data-phase", "dialing")
    panel = callee.page.get_by_test_id("call-panel")
    expect(panel).to_have_attribute("data-phase", "ringing")
    expect(panel).to_have_attribute("data-kind", kind)
    expect(callee.page.get_by_test_id("call-peer")).to_have_text(caller.username)


def connect(caller: User, callee: User, kind: str) -> None:
    dial(caller, callee, kind)
    callee.page.get_by_test_id("call-accept").click()
    for user in (caller, callee):
        user.page.wait_for_function(CONNECTED)
        expect(user.page.get_by_test_id("call-panel")).to_have_attribute("data-phase", "connected")


def hang_up(user: User, other: User) -> None:
    user.page.get_by_test_id("call-hangup").click()
    for u in (user, other):
        expect(u.page.get_by_test_id("call-panel")).to_have_count(0)
    assert user.page.evaluate("window.__chatTrio.pc") is None


def test_audio_call(friends: tuple[User, User]) -> None:
    alice, bob = friends
    connect(alice, bob, "audio")
    for user in (alice, bob):
        kinds = user.page.evaluate(
            "window.__chatTrio.pc.getReceivers().map(r => r.track.kind).sort()"
        )
        assert kinds == ["audio"]
    hang_up(alice, bob)


def test_video_call_and_screen_share(friends: tuple[User, User]) -> None:
    alice, bob = friends
    connect(alice, bob, "video")
    # The fake camera is 4:3; the fake screen is 16:9.
    bob.page.wait_for_function(REMOTE_VIDEO_RATIO, arg=4 / 3)
    alice.page.wait_for_function(REMOTE_VIDEO_RATIO, arg=4 / 3)

    alice.page.get_by_test_id("call-share-screen").click()
    expect(alice.page.get_by_test_id("call-stop-share")).to_be_visible()
    bob.page.wait_for_function(REMOTE_VIDEO_RATIO, arg=16 / 9)

    alice.page.get_by_test_id("call-stop-share").click()
    bob.page.wait_for_function(REMOTE_VIDEO_RATIO, arg=4 / 3)
    hang_up(bob, alice)


def test_screen_share_in_an_audio_call(friends: tuple[User, User]) -> None:
    alice, bob = friends
    connect(alice, bob, "audio")
    bob.page.get_by_test_id("call-share-screen").click()
    alice.page.wait_for_function(REMOTE_VIDEO_RATIO, arg=16 / 9)
    hang_up(alice, bob)


def test_reject_call(friends: tuple[User, User]) -> None:
    alice, bob = friends
    dial(alice, bob, "video")
    bob.page.get_by_test_id("call-reject").click()
    for user in (alice, bob):
        expect(user.page.get_by_test_id("call-panel")).to_have_count(0)
    expect(alice.page.locator(".ant-message-notice", has_text="declined")).to_be_visible()


def test_cancel_call(friends: tuple[User, User]) -> None:
    alice, bob = friends
    dial(alice, bob, "audio")
    alice.page.get_by_test_id("call-cancel").click()
    for user in (alice, bob):
        expect(user.page.get_by_test_id("call-panel")).to_have_count(0)
    expect(bob.page.locator(".ant-message-notice", has_text="cancelled")).to_be_visible()
    # Both can call again afterwards.
    dial(bob, alice, "audio")
    alice.page.get_by_test_id("call-reject").click()
    expect(bob.page.get_by_test_id("call-panel")).to_have_count(0)


def test_jpeg_frames_from_an_older_client(friends: tuple[User, User]) -> None:
    alice, bob = friends
    bob_uuid = bob.page.evaluate("window.__chatTrio.me.uuid")
    sent = alice.page.evaluate(
        """to => {
            const c = document.createElement("canvas");
            c.width = 64; c.height = 48;
            const g = c.getContext("2d");
            g.fillStyle = "#3a7"; g.fillRect(0, 0, 64, 48);
            return window.__chatTrio.sendRaw({
                to, messageType: 1, contentType: 9, content: c.toDataURL("image/jpeg"),
            });
        }""",
        bob_uuid,
    )
    assert sent is True
    viewer = bob.page.get_by_test_id("frame-viewer")
    expect(viewer).to_have_attribute("data-kind", "screen")
    bob.page.wait_for_function(
        "() => document.querySelector('[data-testid=frame-img]').naturalWidth === 64"
    )


def test_unanswered_call_gives_up(friends: tuple[User, User]) -> None:
    alice, bob = friends
    bob.page.close()  # Bob is offline: the dial goes nowhere.
    alice.page.evaluate("() => { window.__chatTrio.calls.ringTimeoutMs = 500; }")
    alice.page.get_by_test_id("call-audio").click()
    expect(alice.page.locator(".ant-message-notice", has_text="did not answer")).to_be_visible()
    expect(alice.page.get_by_test_id("call-panel")).to_have_count(0)
