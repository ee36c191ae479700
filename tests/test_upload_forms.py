"""Upload bodies that are multipart but not the form the server takes (api/multipart.py).

A real server on 127.0.0.1 (SQLite); each body is sent as is and must get a
400 with the JSON envelope and a reason, or, for parts the server ignores, be
stored as usual.
"""

from __future__ import annotations

import pytest
import trio

from tests.conftest import MakeUser, User

BOUNDARY = "b0undary"


def part(name: str, value: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    return f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + value + b"\r\n"


def body(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


async def post(user: User, content: bytes) -> tuple[int, dict[str, object]]:
    with trio.fail_after(30):
        response = await user.api.http.post(
            "/upload", content=content,
            headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        )
    return response.status_code, response.json()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (body(part("file", b"a", "a.txt"), part("file", b"b", "b.txt")), "came twice"),
        (body(part("note", b"x" * 1025), part("file", b"a", "a.txt")), "longer than 1024"),
        (body(*[part(f"f{i}", b"v") for i in range(20)], part("file", b"a", "a.txt")),
         "too many form fields"),
        (b"--" + BOUNDARY.encode() + b"\r\nno headers end here", "not well-formed"),
        (body(part("note", b"hello")), "`file` is required"),
    ],
    ids=["file twice", "long field", "too many parts", "malformed", "no file"],
)
async def test_a_form_the_server_does_not_take_is_a_400_with_the_reason(
    make_user: MakeUser, content: bytes, reason: str
) -> None:
    user = await make_user()
    status, answer = await post(user, content)
    assert status == 400
    assert answer["code"] == -1 and reason in str(answer["msg"])


async def test_other_file_parts_are_skipped_and_the_file_is_stored(make_user: MakeUser) -> None:
    """A file under another name (before and after ``file``) and a short field are
    read past; the ``file`` part is the upload."""
    user = await make_user()
    status, answer = await post(user, body(
        part("other", b"skip me", "o.txt"), part("note", b"hi"),
        part("file", b"the upload", "u.txt"), part("extra", b"skip too", "e.txt"),
    ))
    assert status == 201, answer
    assert answer["code"] == 0
    data = answer["data"]
    assert isinstance(data, dict) and data["size"] == len(b"the upload")
