"""The Bus protocol and its statistics record (re-exported by chat_trio.bus)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import trio


@dataclass(frozen=True, slots=True)
class BusStatistics:
    connected: bool
    nodes: int
    published: int
    received: int
    dropped: int


class Bus(Protocol):
    """What the rest of the server sees of the bus."""

    @property
    def node_id(self) -> str: ...

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The bus's I/O; runs until cancelled. Start it with ``nursery.start(bus.run)``."""
        ...

    def publish(self, payload: bytes, recipients: Iterable[str]) -> None:
        """Hand ``payload`` (an encoded frame) to the other nodes holding sessions of
        ``recipients``. Local sessions are the hub's business, not the bus's.
        Never blocks."""
        ...

    def presence_changed(self, user_uuid: str, online: bool) -> None:
        """The user's first session on this node opened (True) or its last closed."""
        ...

    def nodes_elsewhere(self, user_uuid: str) -> int:
        """How many other live nodes hold a session of this user."""
        ...

    def health(self) -> str:
        """``"ok"``, or ``"unreachable: <why>"`` while the bus cannot carry anything."""
        ...

    def statistics(self) -> BusStatistics: ...
