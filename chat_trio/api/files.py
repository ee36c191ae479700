"""File routes: serve stored files, upload an avatar, upload a chat attachment.

Served files carry ``X-Content-Type-Options: nosniff`` and the type sniffed from
their bytes; anything a browser could run or that is not plainly an image,
audio or video is sent as a download.

Uploads are read as they arrive (api/multipart.py): the caller's upload rate and
quota are checked before the body is read, the body's size is counted while it
streams, and the file goes to disk in chunks, so a server holds at most a few
chunks of any upload in memory and stops reading one the moment it is too large.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import trio
from quart import Blueprint, Response, request, send_file

from chat_trio.api.common import current_user, ok, require_self, services
from chat_trio.api.multipart import Form, read_form
from chat_trio.errors import ProtocolError
from chat_trio.files import FileStore, Incoming
from chat_trio.model import ContentType, User

blueprint = Blueprint("files", __name__)

_INLINE_TOPS = ("image/", "audio/", "video/")


@blueprint.get("/file/<path:name>")
async def get_file(name: str) -> Response:
    path = await services().files.path_for(name)
    if path is None:
        raise ProtocolError(404, "no such file", key="no_such_file")
    mime = await trio.to_thread.run_sync(FileStore.mime_of, path)
    response = await send_file(path, mimetype=mime, conditional=True)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    if not mime.startswith(_INLINE_TOPS) or mime == "image/svg+xml":
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@dataclass
class _Received:
    incoming: Incoming
    form: Form


@asynccontextmanager
async def _received(user: User) -> AsyncIterator[_Received]:
    """The request's upload, read to its end, its file not yet in place.

    Commit ``incoming`` inside the block to keep the file; anything else (a
    refusal raised in the block included) deletes it.

    Raises:
        ProtocolError: 429 past the upload rate; 413 over the quota, the declared
            or the streamed size; 400 for a body that is not a multipart form
            with a `file` field; 408 when the body is not in within the body
            timeout.
    """
    files = services().files
    files.admit(user)
    boundary = request.mimetype_params.get("boundary", "")
    if request.mimetype != "multipart/form-data" or not boundary:
        raise ProtocolError(400, "send the file as the multipart/form-data field `file`")
    # the whole body: the file plus its multipart wrapping (the app's MAX_CONTENT_LENGTH)
    limit = request.max_content_length or files.max_bytes
    declared = request.content_length
    if declared is not None and declared > limit:
        raise ProtocolError(
            413, f"file too large: limit is {files.max_bytes} bytes", key="file_too_large"
        )
    reserve = files.max_bytes if declared is None else min(declared, files.max_bytes)
    async with files.receiving(user, reserve) as incoming:
        timeout = math.inf if request.body_timeout is None else request.body_timeout
        with trio.move_on_after(timeout) as timer:
            form = await read_form(
                request.body, boundary.encode("latin-1"), incoming, limit=limit
            )
        if timer.cancelled_caught:
            raise ProtocolError(408, f"the upload was not complete within {timeout:g} s")
        yield _Received(incoming, form)


@blueprint.post("/file")
async def upload_avatar() -> Response:
    """go-chat's avatar upload: the stored file becomes the caller's avatar."""
    user = await current_user()
    async with _received(user) as received:
        require_self(user, received.form.fields.get("uuid") or user.uuid)
        found = received.incoming.sniffed(received.form.suffix_hint)
        if found.content_type != ContentType.IMAGE or found.mime == "image/svg+xml":
            raise ProtocolError(
                400, "an avatar must be an image (PNG, JPEG, GIF, WebP ...)",
                key="avatar_not_image",
            )
        stored = await received.incoming.commit(received.form.suffix_hint)
    s = services()
    await s.store.set_avatar(user.id, stored.name)
    await s.directory.profile_changed(user.uuid)
    return ok(stored.name)


@blueprint.post("/upload")
async def upload_attachment() -> Response:
    """A chat attachment; the client then sends a message whose url is the name."""
    user = await current_user()
    async with _received(user) as received:
        stored = await received.incoming.commit(received.form.suffix_hint)
    return ok(
        {
            "name": stored.name,
            "contentType": int(stored.content_type),
            "mime": stored.mime,
            "size": stored.size,
        },
        status=201,
    )
