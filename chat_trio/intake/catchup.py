"""Catch-up: a session asks for what it missed after a message id, a page at a time.

A page is what the user can see after that id, in id order, as live delivery
would have sent it, then a ``sync`` marker saying whether there is more. It goes
through the hub, like every frame a session gets, and fits in the session's
outbox with room for live traffic: half of it, in frames and in bytes (a page
ends early, and says more, at half the bytes; one message at least).
"""

from __future__ import annotations

import trio

from chat_trio import codec
from chat_trio.config import LimitsConfig
from chat_trio.hub import HubEvent, Reply
from chat_trio.model import User
from chat_trio.session import Session
from chat_trio.storage import Store


class CatchUp:
    def __init__(
        self, store: Store, hub_inbox: trio.MemorySendChannel[HubEvent], limits: LimitsConfig
    ) -> None:
        self._store = store
        self._hub_inbox = hub_inbox
        self._page = max(1, min(500, limits.outbox_frames // 2))
        self._page_bytes = limits.outbox_bytes // 2

    async def send_page(self, session: Session, user: User, after: int) -> None:
        """The page after id ``after`` of what ``user`` may see, then its ``sync``
        marker, to ``session`` (one of that user's)."""
        page = await self._store.messages_after(user, after, limit=self._page)
        more = len(page) == self._page
        last = after
        budget = self._page_bytes
        for stored in page:
            frame = codec.stored_frame(stored)
            budget -= len(frame)
            if budget < 0 and last != after:
                more = True
                break
            await self._hub_inbox.send(Reply(session, frame))
            last = stored.id
        await self._hub_inbox.send(Reply(session, codec.sync_frame(last, more)))
