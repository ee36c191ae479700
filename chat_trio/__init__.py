"""chat-trio: a self-hosted real-time chat server on Trio, wire-compatible with go-chat.

The public surface is small on purpose::

    from chat_trio import Config, load_config, serve
    trio.run(serve, load_config("config.toml"))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from chat_trio.app import serve
    from chat_trio.config import Config, load_config

__all__ = ["Config", "__version__", "load_config", "serve"]


def __getattr__(name: str) -> Any:
    # Imported lazily so that `chat-trio --help` does not load the whole server.
    if name == "serve":
        from chat_trio.app import serve

        return serve
    if name in ("Config", "load_config"):
        from chat_trio import config

        return getattr(config, name)
    raise AttributeError(name)
