"""The Bus protocol and its statistics record (re-exported by chat_trio.bus)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
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


@dataclass(frozen=True, slots=True)
class Revocation:
    """Logins ended on one node, to be ended on every node: the login whose token
    hashes to ``token_hash`` (a logout), or every login of ``user_id`` but the one
    hashing to ``keep_hash`` (a password change)."""

    token_hash: str = ""
    user_id: int = 0
    keep_hash: str = ""


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

    def publish_signal(self, payload: bytes, recipients: Iterable[str]) -> None:
        """Like :meth:`publish`, for a call frame: the receiving node routes it by
        its call state (:class:`~chat_trio.hub.RemoteSignal`). Never blocks."""
        ...

    def publish_notice(self, payload: bytes, recipients: Iterable[str], feature: str) -> None:
        """Like :meth:`publish`, for an optional frame (presence, typing): the
        receiving node delivers it only to sessions that asked for ``feature``.
        Never blocks."""
        ...

    #: Told every revocation another node published (see :class:`Revocation`);
    #: must not block.
    on_revocation: Callable[[Revocation], None] | None

    def publish_revocation(self, revocation: Revocation) -> None:
        """Tell the other nodes that logins ended here, so that they drop them from
        their token caches and close the sessions opened with them. Never blocks."""
        ...

    #: Told the users whose blocks changed on another node (their cached blocks
    #: are stale); must not block.
    on_block_change: Callable[[tuple[str, ...]], None] | None

    def publish_block_change(self, user_uuids: tuple[str, ...]) -> None:
        """Tell the other nodes that blocks between these users changed here, so
        that they read them again before the next message. Never blocks."""
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
