"""chat-trio's exceptions, in one hierarchy.

- ChatTrioError: base of everything raised on purpose.
  - ConfigError: a bad key or value in config.toml or the environment; start-up stops.
  - StorageError: the database failed (gone, locked, timed out); the request or
    message that needed it fails, the process keeps running.
    - Conflict: a unique name (username, group name) is taken.
  - ProtocolError: a client sent something that cannot be accepted; it carries the
    HTTP-like ``code`` that goes into the error frame or the JSON envelope, and a
    stable ``key`` (docs/protocol.md, "Error keys") that clients translate: the
    English ``reason`` may be reworded, the key may not.
"""

from __future__ import annotations


class ChatTrioError(Exception):
    """Base class for chat-trio's own exceptions."""


class ConfigError(ChatTrioError):
    """The configuration is invalid; the message names the key."""


class StorageError(ChatTrioError):
    """The database could not do what was asked."""


class Conflict(StorageError):
    """A value that must be unique already exists."""


#: The key of a refusal that names none, by status: a client that knows only these
#: can still say what kind of refusal it got in its user's language.
KEYS_BY_STATUS: dict[int, str] = {
    400: "bad_request",
    401: "not_logged_in",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "timeout",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "internal",
    503: "unavailable",
}


def key_for_status(code: int) -> str:
    """The generic error key for an HTTP-like status (``internal`` when unknown)."""
    return KEYS_BY_STATUS.get(code, "bad_request" if 400 <= code < 500 else "internal")


class ProtocolError(ChatTrioError):
    """A client's request or frame is refused, with an HTTP-like status code."""

    def __init__(
        self,
        code: int,
        reason: str,
        *,
        retry_after: float | None = None,
        key: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        #: Seconds after which trying again can succeed (sent as ``Retry-After``).
        self.retry_after = retry_after
        #: The stable, untranslated name of this refusal (``errorKey`` on the wire).
        self.key = key or key_for_status(code)
