"""Who blocked whom, cached for the message path.

Every 1:1 message and every relayed frame (calls, signaling, video frames,
many a second during a call) is checked against the blocks between sender and
recipient. Asking the database each time would put a thread hop on each of
them, so each user's blocks, both ways, are kept here once read, as the
directory keeps group members. An entry is dropped when a block or unblock
of that user is made on this node, or on another node (the bus says so, ahead
of the friend events the change sent: bus/redis.py), and read again once
``ttl`` seconds old, which bounds how long a change made while Redis was
unreachable goes unseen here. (Friend requests are checked in the database,
always.)
"""

from __future__ import annotations

from dataclasses import dataclass

import trio

from chat_trio.storage import Store


@dataclass(frozen=True, slots=True)
class Ties:
    #: The users this user blocked.
    blocked: frozenset[str]
    #: The users who blocked this user.
    blocked_by: frozenset[str]
    loaded_at: float


class BlockCache:
    def __init__(self, store: Store, *, ttl: float = 5.0, max_users: int = 100_000) -> None:
        self._store = store
        self._ttl = ttl
        self._max_users = max_users
        self._ties: dict[str, Ties] = {}
        self._generation: dict[str, int] = {}

    async def ties(self, uuid: str) -> Ties:
        """``uuid``'s blocks both ways: a dict hit when fresh, else one read.

        Raises: StorageError.
        """
        now = trio.current_time()
        cached = self._ties.get(uuid)
        if cached is not None and now - cached.loaded_at < self._ttl:
            return cached
        generation = self._generation.get(uuid, 0)
        blocked, blocked_by = await self._store.block_ties(uuid)
        ties = Ties(blocked, blocked_by, now)
        # A block made here while we read may be missing: answer, but do not keep.
        if self._generation.get(uuid, 0) == generation:
            if len(self._ties) >= self._max_users:
                self._ties.clear()
            self._ties[uuid] = ties
        return ties

    def forget(self, *uuids: str) -> None:
        """Drop the cached blocks of these users (a block between them changed)."""
        for uuid in uuids:
            self._generation[uuid] = self._generation.get(uuid, 0) + 1
            self._ties.pop(uuid, None)
