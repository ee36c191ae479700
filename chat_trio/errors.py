"""chat-trio's exceptions, in one hierarchy.

- ChatTrioError: base of everything raised on purpose.
  - ConfigError: a bad key or value in config.toml or the environment; start-up stops.
  - StorageError: the database failed (gone, locked, timed out); the request or
    message that needed it fails, the process keeps running.
    - Conflict: a unique name (username, group name) is taken.
  - ProtocolError: a client sent something that cannot be accepted; it carries the
    HTTP-like ``code`` that goes into the error frame or the JSON envelope.
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


class ProtocolError(ChatTrioError):
    """A client's request or frame is refused, with an HTTP-like status code."""

    def __init__(self, code: int, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        #: Seconds after which trying again can succeed (sent as ``Retry-After``).
        self.retry_after = retry_after
