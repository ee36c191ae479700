"""The flood budget: how much a session may send, charged before any work is done.

Every frame costs one token plus one per :data:`BYTES_PER_TOKEN` of its size (at
most the whole burst, so that any frame the limits allow can pass). With the
defaults (20 tokens a second, bursts of 60) a session may send about 5 MiB a
second, and a 10 MiB file inside a frame costs 41 tokens. A frame over budget
is refused with 429 and a ``retry_after``; ``floodCloseAfter`` refusals in a row
close the session (1008).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import trio

from chat_trio.config import LimitsConfig
from chat_trio.errors import ProtocolError
from chat_trio.ratelimit import TokenBucket
from chat_trio.session import CLOSE_POLICY, Session

#: A frame costs one token of the flood budget plus one per this many bytes.
BYTES_PER_TOKEN = 256 * 1024


@dataclass
class Budget:
    """One session's tokens, and how many frames in a row it had refused."""

    bucket: TokenBucket
    refused_in_row: int = field(default=0)


class FloodGuard:
    """The budgets of every session, each made on its first frame and dropped with
    the session (a weak map: nothing has to forget a session that ended)."""

    def __init__(self, limits: LimitsConfig) -> None:
        self._limits = limits
        self._budgets: weakref.WeakKeyDictionary[Session, Budget] = weakref.WeakKeyDictionary()

    def charge(self, session: Session, size: int) -> None:
        """Take the tokens a frame of ``size`` bytes costs from the session's budget.

        Raises:
            ProtocolError: 429 when the budget cannot pay (and the session is
                closed with 1008 after ``floodCloseAfter`` such frames in a row).
        """
        now = trio.current_time()
        limits = self._limits
        budget = self._budgets.get(session)
        if budget is None:
            budget = Budget(TokenBucket.full(limits.messages_per_second, limits.message_burst, now))
            self._budgets[session] = budget
        cost = min(1 + size // BYTES_PER_TOKEN, limits.message_burst)
        if budget.bucket.take(now, cost):
            budget.refused_in_row = 0
            return
        budget.refused_in_row += 1
        if budget.refused_in_row >= limits.flood_close_after:
            session.close(CLOSE_POLICY, "message flood")
        raise ProtocolError(
            429, "too many messages: slow down", retry_after=budget.bucket.retry_after(now, cost),
        key="too_many_messages",
        )
