"""chat-trio: a self-hosted real-time chat server on Trio, wire-compatible with go-chat.

The public surface is small on purpose::

    from chat_trio import Config, load_config, serve
    trio.run(serve, load_config("config.toml"))

- :class:`Config`: the whole configuration, frozen and validated once
  (chat_trio.config; every key is listed in config.toml).
- :func:`load_config`: a :class:`Config` from a TOML file and ``CHAT_TRIO_*``
  environment variables.
- :func:`serve`: runs one server until its shutdown trigger returns
  (``await nursery.start(serve, config)`` reports the URL it listens on).
- ``__version__``: the package version.

These are resolved on first use, so that ``import chat_trio`` (and
``chat-trio --help``) does not load the server. The subpackages
(``chat_trio.transport``, ``bus``, ``storage``, ``api``, ``intake``) each list
what they offer the rest of the server in their ``__all__``; everything else is
an implementation detail and may change. tests/test_exports.py keeps all of this
true.
"""

import typing as _typing

__version__ = "0.1.0"

if _typing.TYPE_CHECKING:
    from chat_trio.app import serve
    from chat_trio.config import Config, load_config

__all__ = ["Config", "__version__", "load_config", "serve"]


def __getattr__(name: str) -> object:
    # Imported lazily so that `chat-trio --help` does not load the whole server.
    if name == "serve":
        from chat_trio.app import serve

        return serve
    if name in ("Config", "load_config"):
        from chat_trio import config

        return getattr(config, name)
    raise AttributeError(f"module 'chat_trio' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
