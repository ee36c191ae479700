"""An ``Origin`` or a ``Host`` without a host name matches nothing: a page can
never pass the same-origin check by leaving the name out."""

from __future__ import annotations

import pytest

from chat_trio.api.security import origin_allowed


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://", "chat.example.org"),  # an origin with no host at all
        ("http://:8888", "127.0.0.1:8888"),
        ("http://127.0.0.1:8888", ":8888"),  # a Host header with only a port
        ("http://:8888", ":8888"),  # both nameless: still not the same origin
    ],
)
def test_a_nameless_origin_or_host_is_refused(origin: str, host: str) -> None:
    assert origin_allowed(origin, host, ()) is False
