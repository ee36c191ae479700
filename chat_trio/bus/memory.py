"""The bus of a single process: every session is local, so there is nothing to carry."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import trio

from chat_trio.bus.base import BusStatistics, Revocation


class MemoryBus:
    """One node: the hub already reaches every session, and nobody is elsewhere."""

    node_id = "local"

    def __init__(self) -> None:
        self.on_revocation: Callable[[Revocation], None] | None = None
        self.on_block_change: Callable[[tuple[str, ...]], None] | None = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()

    def publish(self, payload: bytes, recipients: Iterable[str]) -> None:
        pass

    def publish_signal(self, payload: bytes, recipients: Iterable[str]) -> None:
        pass

    def publish_notice(self, payload: bytes, recipients: Iterable[str], feature: str) -> None:
        pass

    def publish_revocation(self, revocation: Revocation) -> None:
        pass

    def publish_block_change(self, user_uuids: tuple[str, ...]) -> None:
        pass

    def presence_changed(self, user_uuid: str, online: bool) -> None:
        pass

    def nodes_elsewhere(self, user_uuid: str) -> int:
        return 0

    def health(self) -> str:
        return "ok"

    def statistics(self) -> BusStatistics:
        return BusStatistics(connected=True, nodes=1, published=0, received=0, dropped=0)
