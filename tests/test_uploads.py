"""Uploads end to end: streamed to disk, limited while they stream, rated, under a quota.

Real servers on 127.0.0.1 (port 0) on both backends, raw sockets where the test
needs to control how the body is sent. The upload folder is the only state some
tests can watch (a part file appearing and going), so those wait for it with a
bounded poll; everything else waits for an answer.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import FrameType as PyFrame

import httpx
import pytest
import trio

from chat_trio.client import ApiError, Message
from chat_trio.files import FileStore
from chat_trio.model import FrameType
from chat_trio.storage import open_storage
from tests.conftest import MakeUser, Server, User
from tests.test_http_api import PNG, raw

MIB = 1024 * 1024
LIMIT = 1 * MIB
BOUNDARY = "b0undary"


@pytest.fixture
def server_limits() -> dict[str, object]:
    return {"max_upload_bytes": LIMIT, "upload_quota_bytes": 0, "uploads_per_minute": 1000}


def _files(server: Server) -> list[Path]:
    folder = server.tmp_path / "files"
    return sorted(folder.iterdir()) if folder.exists() else []


async def until(check: Callable[[], bool]) -> None:
    """Until the upload folder shows what the server did (it raises no event)."""
    with trio.fail_after(20):
        while not check():  # noqa: ASYNC110 - the state is the upload folder's
            await trio.sleep(0.01)


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _chunked_head(user: User, path: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {user.me.token}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode() + _chunk(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        'filename="big.bin"\r\n\r\n'.encode()
    )


def _port(server: Server) -> int:
    return int(server.url.rsplit(":", 1)[1])


def _multipart(data: bytes, filename: str = "f.bin") -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"'
        "\r\n\r\n"
    ).encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()


async def _upload(user: User, data: bytes) -> dict[str, object]:
    answer: dict[str, object] = await user.api.request(
        "POST", "/upload", files={"file": ("f.bin", data)}
    )
    return answer


@pytest.mark.parametrize("path", ["/upload", "/file"])
async def test_chunked_upload_over_the_limit_is_refused_without_reading_it(
    server: Server, make_user: MakeUser, path: str
) -> None:
    """64 times the limit, chunked (no Content-Length): the server answers 413 and
    closes the connection while the client is still sending; nothing is kept."""
    user = await make_user()
    stream = await trio.open_tcp_stream("127.0.0.1", _port(server))
    answer = bytearray()
    sent_everything = False
    block = _chunk(b"\0" * MIB)

    async def send() -> None:
        nonlocal sent_everything
        try:
            await stream.send_all(_chunked_head(user, path))
            for _ in range(64):
                await stream.send_all(block)
            await stream.send_all(_chunk(f"\r\n--{BOUNDARY}--\r\n".encode()) + b"0\r\n\r\n")
            sent_everything = True
        except trio.BrokenResourceError:
            pass  # the server closed the connection: what this test wants

    async def receive() -> None:
        try:
            while chunk := await stream.receive_some(65536):
                answer.extend(chunk)
        except trio.BrokenResourceError:
            pass

    with trio.fail_after(30):
        async with stream, trio.open_nursery() as nursery:
            nursery.start_soon(send)
            nursery.start_soon(receive)
    head, _, body = bytes(answer).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"code":-1' in body and b"limit is 1048576 bytes" in body
    assert not sent_everything, "the server read the whole oversized body"
    await until(lambda: not _files(server))


async def test_a_disconnect_mid_upload_leaves_nothing(server: Server, make_user: MakeUser) -> None:
    """The part file goes and the quota reservation is given back."""
    user = await make_user()
    stream = await trio.open_tcp_stream("127.0.0.1", _port(server))
    async with stream:
        await stream.send_all(_chunked_head(user, "/upload") + _chunk(PNG + b"\0" * 600_000))
        await until(lambda: any(p.name.endswith(".part") for p in _files(server)))
    await until(lambda: not _files(server))

    # Had the chunked upload's reservation (the whole 1 MiB limit) stayed, this
    # 1 MiB file would not fit in a 1.5 MiB quota.
    async with open_storage(server.config) as store:
        stored_user = await store.user_by_uuid(user.uuid)
        assert stored_user is not None
        assert await store.file_usage(stored_user.id) == 0


@pytest.mark.parametrize(
    "server_limits",
    [{"max_upload_bytes": LIMIT, "upload_quota_bytes": LIMIT * 3 // 2}],
)
async def test_an_aborted_upload_gives_its_quota_back(
    server: Server, make_user: MakeUser
) -> None:
    user = await make_user()
    stream = await trio.open_tcp_stream("127.0.0.1", _port(server))
    async with stream:
        await stream.send_all(_chunked_head(user, "/upload") + _chunk(b"\0" * 600_000))
        await until(lambda: any(p.name.endswith(".part") for p in _files(server)))
    await until(lambda: not _files(server))
    stored = await _upload(user, PNG + b"\0" * (LIMIT - len(PNG) - 1024))
    assert stored["mime"] == "image/png"


async def test_a_large_chunked_upload_streams_to_disk_and_is_served_intact(
    server: Server, make_user: MakeUser
) -> None:
    """Sent chunked, typed by its first bytes, served whole with the sniffed type."""
    user = await make_user()
    data = PNG + bytes(range(256)) * ((LIMIT - 4096) // 256)

    async def body() -> AsyncIterator[bytes]:
        payload = _multipart(data, "picture.txt")
        for start in range(0, len(payload), 100_000):
            yield payload[start : start + 100_000]

    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        response = await http.post(
            "/upload",
            content=body(),
            headers={
                "Authorization": f"Bearer {user.me.token}",
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            },
        )
    assert response.status_code == 201, response.text
    stored = response.json()["data"]
    assert (stored["mime"], stored["size"], stored["contentType"]) == ("image/png", len(data), 3)
    assert [p.name for p in _files(server)] == [stored["name"]]
    served = await raw(server, "GET", f"/file/{stored['name']}")
    assert served.content == data
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "content-disposition" not in served.headers


async def test_refused_avatars_leave_no_file(make_user: MakeUser, server: Server) -> None:
    a, b = await make_user(), await make_user()
    with pytest.raises(ApiError) as refused:
        await a.api.request(
            "POST", "/file", data={"uuid": a.uuid}, files={"file": ("x.png", b"plain text")}
        )
    assert refused.value.status == 400
    with pytest.raises(ApiError) as refused:
        await a.api.request("POST", "/file", data={"uuid": b.uuid}, files={"file": ("x", PNG)})
    assert refused.value.status == 403
    assert _files(server) == []


@pytest.mark.parametrize(
    "server_limits", [{"max_upload_bytes": LIMIT, "uploads_per_minute": 3}]
)
async def test_uploads_per_minute_get_429_with_retry_after(
    server: Server, make_user: MakeUser
) -> None:
    """Over HTTP and inside frames alike; another user is not affected."""
    user, other = await make_user(), await make_user()
    for _ in range(3):
        await _upload(user, PNG)
    async with httpx.AsyncClient(base_url=server.url) as http:
        refused = await http.post(
            "/upload",
            files={"file": ("a.png", PNG)},
            headers={"Authorization": f"Bearer {user.me.token}"},
        )
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert "at most 3 a minute" in refused.json()["msg"]
    with trio.fail_after(20):
        async with user.api.connect() as conn:
            await conn.receive()  # welcome
            await conn.send(Message(to=other.uuid, contentType=3, messageType=1, file=PNG))
            error = await conn.receive()
    assert (error.type, error.code) == (FrameType.ERROR, 429)
    await _upload(other, PNG)
    assert len(_files(server)) == 4


QUOTA = 10_000
PIECE = b"\x01" * 3000


@pytest.mark.parametrize(
    "server_limits",
    [{"max_upload_bytes": LIMIT, "upload_quota_bytes": QUOTA, "uploads_per_minute": 100}],
)
async def test_the_quota_counts_http_and_socket_files(
    server: Server, make_user: MakeUser
) -> None:
    user, other = await make_user(), await make_user()
    first = await _upload(user, PIECE)
    await _upload(user, PIECE)
    with trio.fail_after(20):
        async with user.api.connect() as conn:
            await conn.receive()  # welcome
            await conn.send(
                Message(to=other.uuid, contentType=2, messageType=1, file=PIECE, clientId="s1")
            )
            assert (await conn.receive()).type == FrameType.ACK
            await conn.send(
                Message(to=other.uuid, contentType=2, messageType=1, file=PIECE, clientId="s2")
            )
            refused_frame = await conn.receive()
    assert (refused_frame.type, refused_frame.code) == (FrameType.ERROR, 413)
    with pytest.raises(ApiError) as refused:
        await _upload(user, PIECE)
    assert refused.value.status == 413
    assert "quota" in refused.value.msg and "9000 of your 10000 bytes" in refused.value.msg
    await _upload(other, PIECE)  # a quota is per user

    async with open_storage(server.config) as store:
        owner = await store.user_by_uuid(user.uuid)
        assert owner is not None
        assert await store.file_usage(owner.id) == 9000
        assert await store.stored_file(str(first["name"])) == (owner.id, 3000)
    assert len(_files(server)) == 4


@pytest.mark.parametrize(
    "server_limits",
    [{"max_upload_bytes": LIMIT, "upload_quota_bytes": QUOTA, "uploads_per_minute": 100}],
)
async def test_concurrent_uploads_cannot_pass_the_quota(
    server: Server, make_user: MakeUser
) -> None:
    """Eight at once, room for three: three are stored, five get 413."""
    user = await make_user()
    statuses: list[int] = []

    async def one() -> None:
        try:
            await _upload(user, PIECE)
            statuses.append(201)
        except ApiError as refused:
            statuses.append(refused.status)

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            for _ in range(8):
                nursery.start_soon(one)
    assert sorted(statuses) == [201] * 3 + [413] * 5
    assert len(_files(server)) == 3


class _NoLedger:
    """For FileStore calls that never reach the database."""

    async def reserve_file(
        self, user_id: int, token: str, size: int, *, quota: int
    ) -> tuple[bool, int]:
        raise AssertionError("not used")

    async def finish_file(self, token: str, name: str, size: int) -> None:
        raise AssertionError("not used")

    async def release_file(self, token: str) -> None:
        raise AssertionError("not used")


async def test_the_file_lookup_stays_off_the_event_loop(tmp_path: Path) -> None:
    """``path_for`` stats the file in a worker thread, never on the loop's thread."""

    files = FileStore(tmp_path, LIMIT, ledger=_NoLedger())
    name = "0" * 32 + ".png"
    (tmp_path / name).write_bytes(PNG)
    stats_on_loop: list[str] = []

    def profile(_frame: PyFrame, event: str, arg: object) -> None:
        if event == "c_call" and getattr(arg, "__name__", "") in ("stat", "lstat"):
            stats_on_loop.append(str(arg))

    sys.setprofile(profile)  # this thread only: the worker threads are not profiled
    try:
        found = await files.path_for(name)
        missing = await files.path_for("1" * 32 + ".png")
    finally:
        sys.setprofile(None)
    assert (found, missing) == (tmp_path / name, None)
    assert stats_on_loop == []


def test_part_files_of_uploads_that_never_finished_are_removed(tmp_path: Path) -> None:
    """What a server that stopped mid-upload left; a part still being written stays."""
    files = FileStore(tmp_path, LIMIT, ledger=_NoLedger())
    old, fresh = tmp_path / f".{'a' * 32}.part", tmp_path / f".{'b' * 32}.part"
    kept = tmp_path / "x"
    for path in (old, fresh, kept):
        path.write_bytes(b"...")
    long_ago = time.time() - 3600
    os.utime(old, (long_ago, long_ago))
    os.utime(kept, (long_ago, long_ago))
    assert files.remove_stale_parts() == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([fresh.name, kept.name])
