"""After a call, both sides see a line "Audio call, 2 s" in the conversation,
placed by time among the messages, and kept over a reload."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import User
from .test_calls import connect, hang_up


def test_call_line_on_both_sides(friends: tuple[User, User]) -> None:
    alice, bob = friends
    alice.send_text("before the call")
    connect(alice, bob, "audio")
    expect(alice.page.get_by_test_id("call-timer")).to_have_attribute("data-seconds", "2")
    hang_up(alice, bob)
    for user in (alice, bob):
        line = user.page.get_by_test_id("call-log")
        expect(line).to_have_count(1)
        expect(line).to_have_text(re.compile(r"^Audio call, [2-9] s$"))
    bob.send_text("after the call")
    order = bob.page.locator('[data-testid="msg"], [data-testid="call-log"]')
    expect(order).to_have_count(3)
    texts = [t.strip() for t in order.all_inner_texts()]
    assert "before the call" in texts[0]
    assert texts[1].startswith("Audio call")
    assert "after the call" in texts[2]

    bob.page.reload()
    bob.open_conv(alice.username)
    expect(bob.page.get_by_test_id("call-log")).to_have_text(re.compile(r"^Audio call, "))
