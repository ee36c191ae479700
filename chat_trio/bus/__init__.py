"""The bus: live delivery between the nodes of one chat-trio deployment.

The database is the record; the bus only carries what a node stored (and the
calls and signaling it relayed) to the other nodes whose sessions should see it
now, and tells every node who is online where. Two implementations:

- :class:`MemoryBus` (``channelType = "memory"``): one process, nothing to carry.
- :class:`RedisBus` (``channelType = "redis"``): per-node Redis channels and a
  presence map in Redis; see docs/scaling.md.

Everything a producer calls is synchronous and never blocks (``publish``,
``presence_changed``), so the store writer, the intake and the hub never wait
on Redis. The bus's own task (``run``) does the I/O and turns what other nodes
publish into :class:`~chat_trio.hub.Fanout` events on the local hub's inbox.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import trio

from chat_trio.bus.base import Bus, BusStatistics, Revocation
from chat_trio.bus.memory import MemoryBus
from chat_trio.config import Config
from chat_trio.hub import HubEvent


def open_bus(
    config: Config,
    hub_inbox: trio.MemorySendChannel[HubEvent],
    *,
    local_users: Callable[[], Collection[str]],
) -> Bus:
    """The bus ``[msgChannelType] channelType`` names. Start it with ``nursery.start(bus.run)``.

    ``hub_inbox`` takes the frames other nodes send; ``local_users`` says who has a
    session here (the hub's :meth:`~chat_trio.hub.Hub.online_users`, its one owner).
    """
    channel = config.msg_channel
    if channel.channel_type == "redis":
        from chat_trio.bus.redis import RedisBus

        return RedisBus(
            channel.redis_url, channel.redis_prefix, hub_inbox, local_users=local_users
        )
    return MemoryBus()


__all__ = ["Bus", "BusStatistics", "MemoryBus", "Revocation", "open_bus"]
