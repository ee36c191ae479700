"""What a chat message stores: its text, or the file it carries and that file's type.

A file arrives as bytes in ``file``, as a ``data:...;base64,`` URL in
``content`` (a file message from the web client), or as the ``url`` of a file
already uploaded to this server. Bytes are stored through the
:class:`~chat_trio.files.FileStore`, whose sniffing decides the stored content
type. A large data URL is decoded in a worker thread, in steps, so the event
loop goes on meanwhile.
"""

from __future__ import annotations

import binascii
import re
from typing import NamedTuple

import trio

from chat_trio import codec
from chat_trio.errors import ProtocolError
from chat_trio.files import FileStore
from chat_trio.model import ContentType, User

_DATA_URL = re.compile(r"^data:[^,]{0,200};base64,", re.ASCII)

#: Base64 longer than this (characters) is decoded in a worker thread: 10 MiB take
#: about 35 ms, which the event loop would otherwise spend on nothing else.
DECODE_IN_THREAD_CHARS = 256 * 1024
#: Characters decoded per step (a multiple of 4): between steps the worker thread
#: lets the event loop's thread take the GIL back.
DECODE_STEP_CHARS = 256 * 1024


class StoredContent(NamedTuple):
    """What the message is stored with."""

    content_type: int
    content: str
    #: The stored file's name, or the ``url`` the message named; "" for text.
    url: str


def decode_base64(text: str, start: int = 0, *, step: int = DECODE_STEP_CHARS) -> bytes:
    """Strict base64 of ``text[start:]``, as ``base64.b64decode(..., validate=True)``,
    in steps of ``step`` characters.

    Raises:
        ProtocolError: 400, the text is not valid base64.
    """
    end = len(text)
    parts = []
    try:
        for i in range(start, end, step):
            piece = text[i : i + step]
            if i + step < end and piece.endswith("="):
                raise binascii.Error("padding before the end")
            parts.append(binascii.a2b_base64(piece, strict_mode=True))
    except (binascii.Error, ValueError):
        raise ProtocolError(400, "content is not valid base64") from None
    return b"".join(parts)


async def decode_data_url(content: str, max_bytes: int) -> bytes:
    """The bytes of a ``data:...;base64,`` URL; a long one decoded in a worker thread.

    Raises:
        ProtocolError: 413 when the bytes would be over ``max_bytes`` (told from the
            length alone, before decoding), 400 when it is not valid base64.
    """
    start = content.find(",") + 1  # 0 without a comma: then it is not base64 either
    encoded = len(content) - start
    if encoded > max_bytes * 4 // 3 + 4:
        raise ProtocolError(
            413, f"file too large: limit is {max_bytes} bytes", key="file_too_large"
        )
    if encoded <= DECODE_IN_THREAD_CHARS:
        return decode_base64(content, start)
    return await trio.to_thread.run_sync(decode_base64, content, start)


async def stored_content(
    message: codec.Message, files: FileStore, *, owner: User, max_text_chars: int
) -> StoredContent:
    """The stored (content type, content, url): files saved (as ``owner``'s), type
    from the bytes.

    Raises:
        ProtocolError: 413 for text over ``max_text_chars`` or a file over the
            file store's limit, 400 for bad base64, a ``url`` that names no
            upload, or a file message with no file.
    """
    content_type = message.contentType
    is_data_url = (
        content_type == ContentType.FILE
        and not message.file
        and _DATA_URL.match(message.content) is not None
    )
    if not is_data_url and len(message.content) > max_text_chars:
        raise ProtocolError(
            413, f"text too long: limit is {max_text_chars} characters", key="text_too_long"
        )
    if message.file or is_data_url:
        if message.file:
            data, text = message.file, message.content
        else:
            data, text = await decode_data_url(message.content, files.max_bytes), ""
        stored = await files.save(data, message.fileSuffix, owner=owner)
        return StoredContent(int(stored.content_type), text, stored.name)
    if message.url:
        if await files.path_for(message.url) is None:
            raise ProtocolError(400, "`url` must name a file uploaded to this server")
    elif content_type != ContentType.TEXT:
        raise ProtocolError(400, "a file message needs `file` bytes, a data URL or a `url`")
    return StoredContent(content_type, message.content, message.url)
