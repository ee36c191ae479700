"""A recorded voice message's player knows its real length (a WebM from
MediaRecorder carries none, so a plain player shows 0:00)."""

from __future__ import annotations

from playwright.sync_api import expect

from .conftest import User


def test_voice_message_shows_its_duration(friends: tuple[User, User]) -> None:
    alice, bob = friends
    button = alice.page.get_by_test_id("record-voice")
    button.click()
    expect(button).to_have_attribute("data-recording", "1")
    # About two seconds of sound (chunks of 250 ms).
    alice.page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=record-voice]').dataset.chunks) >= 8"
    )
    button.click()
    expect(button).to_have_attribute("data-recording", "0")
    for user in (alice, bob):
        audio = user.page.get_by_test_id("msg-audio")
        expect(audio).not_to_have_attribute("data-duration", "")
        seconds = int(audio.get_attribute("data-duration") or "0")
        assert 1 <= seconds <= 10, seconds
        assert audio.evaluate("a => Number.isFinite(a.duration) && a.currentTime === 0")
