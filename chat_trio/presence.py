"""Presence: who is online, pushed live to the people who care, and last seen.

The hub tells :meth:`Presence.changed` when a user's first session on this node
opens and when its last one closes (synchronously, never blocking: the change
is only noted). The presence task then, in its own time:

- for an arrival: pushes ``{type: "presence", from: <user>, content: "online"}``
  to the user's audience, unless another node already holds a session of the
  user (that node announced it);
- for a departure: waits :data:`GRACE` seconds (a reload or a reconnection is
  not a departure), then, if the user has no session on any node, stores the
  time of departure as its last seen and pushes ``content: "offline"`` with
  ``lastSeen``.

The audience (:meth:`PresenceStore.audience`) is the user's friends and its
co-members in groups of at most :data:`MAX_GROUP` members, read once per
change; the frame is encoded once and goes to the audience's sessions here (the
hub skips whoever is not connected) and on other nodes (the bus keeps only the
recipients online elsewhere). Larger groups get no pushes: clients ask
``GET /presence?group=`` when they show one. A user who flaps costs at most one
pair of pushes per grace period.

Several nodes may announce the same arrival (sessions opened at the same moment
on two nodes): the frames say a state, not a change, so a repeat is harmless.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import trio

from chat_trio import codec, features
from chat_trio.bus import Bus
from chat_trio.errors import StorageError
from chat_trio.hub import Fanout, HubEvent
from chat_trio.storage.presence import PresenceStore

log = logging.getLogger(__name__)

#: Seconds a user's last session may be gone before the user counts as offline.
GRACE = 2.0
#: Groups of more members than this get no presence pushes (the fan-out of one
#: user's arrival would be every member of every large group it is in).
MAX_GROUP = 256

ONLINE = "online"
OFFLINE = "offline"
PRESENCE = features.PRESENCE  #: the frame's ``type``, and the feature that asks for it


def presence_frame(user_uuid: str, online: bool, last_seen_ms: int = 0) -> bytes:
    message = codec.Message(
        type=PRESENCE, content=ONLINE if online else OFFLINE, lastSeen=last_seen_ms
    )
    setattr(message, "from", user_uuid)
    return codec.encode(message)


@dataclass(slots=True)
class _Change:
    online: bool
    #: trio.current_time() of the change (a departure waits GRACE from here).
    at: float
    #: The wall clock of the change, ms since the epoch: the stored last seen.
    at_ms: int


class Presence:
    """Last seen and live presence frames. Start it with ``nursery.start(presence.run)``.

    Args:
        online_anywhere: whether a user has a session on any node now.
        online_elsewhere: whether a user has a session on another node now.
    """

    def __init__(
        self,
        store: PresenceStore,
        hub_inbox: trio.MemorySendChannel[HubEvent],
        bus: Bus,
        *,
        online_anywhere: Callable[[str], bool],
        online_elsewhere: Callable[[str], bool],
        grace: float = GRACE,
        max_group: int = MAX_GROUP,
    ) -> None:
        #: Last seen and audiences (the HTTP route reads them too).
        self.store = store
        self._hub_inbox = hub_inbox
        self._bus = bus
        self._online_anywhere = online_anywhere
        self._online_elsewhere = online_elsewhere
        self._grace = grace
        self.max_group = max_group
        self._pending: dict[str, _Change] = {}
        self._wake_send, self._wake_receive = trio.open_memory_channel[None](1)

    def changed(self, user_uuid: str, online: bool) -> None:
        """The user's first session here opened, or its last one here closed. Never
        blocks (the hub calls it)."""
        pending = self._pending.get(user_uuid)
        if online and pending is not None and not pending.online:
            # Back within the grace period: nobody was told it left.
            del self._pending[user_uuid]
            return
        self._pending[user_uuid] = _Change(
            online, trio.current_time(), time.time_ns() // 1_000_000
        )
        with contextlib.suppress(trio.WouldBlock):
            self._wake_send.send_nowait(None)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            now = trio.current_time()
            due = [
                (user, change) for user, change in self._pending.items()
                if change.online or change.at + self._grace <= now
            ]
            for user, change in due:
                if self._pending.get(user) is change:
                    del self._pending[user]
            if due:
                try:
                    await self._announce(due)
                except StorageError as exc:
                    log.warning("presence of %d users not announced: %s", len(due), exc)
            waits = [c.at + self._grace for c in self._pending.values() if not c.online]
            with trio.move_on_at(min(waits, default=float("inf"))):
                await self._wake_receive.receive()

    async def _announce(self, due: list[tuple[str, _Change]]) -> None:
        """Store the departures' last seen and push every change, with one query for
        all their audiences (a node's users all come or go at once when it starts
        or stops: one query each would hold the database from the messages)."""
        frames: dict[str, bytes] = {}
        departures: dict[str, int] = {}
        for user, change in due:
            if change.online:
                if not self._online_elsewhere(user):  # else the other node announced it
                    frames[user] = presence_frame(user, True)
            elif not self._online_anywhere(user):  # else not a departure after all
                departures[user] = change.at_ms
                frames[user] = presence_frame(user, False, change.at_ms)
        if not frames:
            return
        await self.store.set_last_seen_many(departures)
        audiences = await self.store.audiences(frames, max_group=self.max_group)
        for user, frame in frames.items():
            audience = tuple(audiences.get(user, ()))
            if audience:
                await self._hub_inbox.send(Fanout(frame, audience, feature=features.PRESENCE))
                self._bus.publish_notice(frame, audience, features.PRESENCE)
