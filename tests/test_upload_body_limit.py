"""A streamed upload body (no Content-Length) past the body limit is refused with
413 even when the part that passes it is one the server skips (SQLite and MariaDB).

Which check refuses it depends on how much of the body has arrived when the route
starts reading: Quart's cap on what it buffers, or the route's count of what it
read (api/multipart.py); both answer the same."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio

from chat_trio.api import MULTIPART_OVERHEAD
from tests.conftest import MakeUser
from tests.test_upload_forms import BOUNDARY, part

LIMIT = 1000


@pytest.fixture
def server_limits() -> dict[str, object]:
    return {"max_upload_bytes": LIMIT}


async def streamed(*pieces: bytes) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


async def test_a_skipped_part_still_counts_toward_the_body_limit(make_user: MakeUser) -> None:
    user = await make_user()
    skipped = part("other", b"x" * (LIMIT + MULTIPART_OVERHEAD), "big.bin")
    pieces = [skipped[i : i + 16384] for i in range(0, len(skipped), 16384)]
    pieces += [part("file", b"a", "a.txt"), f"--{BOUNDARY}--\r\n".encode()]
    with trio.fail_after(30):
        response = await user.api.http.post(
            "/upload", content=streamed(*pieces),
            headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        )
    assert response.status_code == 413
    assert f"limit is {LIMIT} bytes" in response.json()["msg"]
    me = await user.api.request("GET", "/user/me")
    assert me["uuid"] == user.uuid
