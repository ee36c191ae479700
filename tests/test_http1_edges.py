"""The request splitter's edges: a head it cannot parse, an empty framing header,
and a chunk-size line that never ends all stop the following, as hypercorn's
parser refuses each of them."""

from __future__ import annotations

import pytest

from chat_trio.transport.http1 import MAX_CHUNK_LINE, RequestSplitter
from tests.test_transport_http1 import UPGRADE, wants, with_body


@pytest.mark.parametrize(
    "odd",
    [
        with_body(b"", b"Content-Length: 5", b"no colon here"),  # parse_head refuses it
        with_body(b"", b"Content-Length: "),  # hypercorn: "bad Content-Length"
        with_body(b"", b"Transfer-Encoding: "),  # hypercorn: only chunked is supported
        with_body(b"", b"Transfer-Encoding:", b"Content-Length: 0"),
    ],
)
def test_a_head_hypercorn_refuses_stops_the_following(odd: bytes) -> None:
    splitter = RequestSplitter(wants)
    forward, upgrade, _ = splitter.feed(odd)
    assert forward == odd and upgrade is None and not splitter.following
    assert splitter.feed(UPGRADE) == (UPGRADE, None, b"")


def test_a_chunk_size_line_that_never_ends_stops_the_following() -> None:
    splitter = RequestSplitter(wants)
    head = with_body(b"", b"Transfer-Encoding: chunked")
    assert splitter.feed(head) == (head, None, b"")
    line = b"1;" + b"x" * (MAX_CHUNK_LINE // 2)
    assert splitter.feed(line)[1] is None and splitter.following  # still short enough
    assert splitter.feed(line)[1] is None and not splitter.following
    assert splitter.feed(b"\r\n" + UPGRADE) == (b"\r\n" + UPGRADE, None, b"")
