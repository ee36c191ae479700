"""File routes: serve stored files, upload an avatar, upload a chat attachment.

Served files carry ``X-Content-Type-Options: nosniff`` and the type sniffed from
their bytes; anything a browser could run or that is not plainly an image,
audio or video is sent as a download.
"""

from __future__ import annotations

import trio
from quart import Blueprint, Response, request, send_file
from werkzeug.datastructures import FileStorage

from chat_trio.api.common import current_user, ok, require_self, services
from chat_trio.errors import ProtocolError
from chat_trio.files import FileStore, StoredFile
from chat_trio.model import ContentType

blueprint = Blueprint("files", __name__)

_INLINE_TOPS = ("image/", "audio/", "video/")


@blueprint.get("/file/<path:name>")
async def get_file(name: str) -> Response:
    path = services().files.path_for(name)
    if path is None:
        raise ProtocolError(404, "no such file")
    mime = await trio.to_thread.run_sync(FileStore.mime_of, path)
    response = await send_file(path, mimetype=mime, conditional=True)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    if not mime.startswith(_INLINE_TOPS) or mime == "image/svg+xml":
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


async def _uploaded_file() -> tuple[FileStorage, str]:
    files = await request.files
    upload = files.get("file")
    if upload is None:
        raise ProtocolError(400, "the multipart field `file` is required")
    form = await request.form
    return upload, form.get("uuid", "")


async def _save(upload: FileStorage) -> StoredFile:
    data = await trio.to_thread.run_sync(upload.read)
    suffix = (upload.filename or "").rpartition(".")[2] if "." in (upload.filename or "") else ""
    return await services().files.save(data, suffix)


@blueprint.post("/file")
async def upload_avatar() -> Response:
    """go-chat's avatar upload: the stored file becomes the caller's avatar."""
    user = await current_user()
    upload, uuid = await _uploaded_file()
    require_self(user, uuid or user.uuid)
    stored = await _save(upload)
    if stored.content_type != ContentType.IMAGE or stored.mime == "image/svg+xml":
        raise ProtocolError(400, "an avatar must be an image (PNG, JPEG, GIF, WebP ...)")
    s = services()
    await s.store.set_avatar(user.id, stored.name)
    updated = await s.store.user_by_uuid(user.uuid)
    if updated is not None:
        s.directory.remember(updated)
        s.accounts.user_changed(updated)
    return ok(stored.name)


@blueprint.post("/upload")
async def upload_attachment() -> Response:
    """A chat attachment; the client then sends a message whose url is the name."""
    await current_user()
    upload, _ = await _uploaded_file()
    stored = await _save(upload)
    return ok(
        {
            "name": stored.name,
            "contentType": int(stored.content_type),
            "mime": stored.mime,
            "size": stored.size,
        },
        status=201,
    )
