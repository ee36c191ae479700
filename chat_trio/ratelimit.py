"""Token buckets: how often someone may do something.

Pure arithmetic on a clock the caller passes in (``trio.current_time()`` in the
server, any number in tests), so nothing here sleeps or needs Trio.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass
class TokenBucket:
    """``burst`` tokens at most, refilled at ``rate`` tokens per second."""

    rate: float
    burst: float
    tokens: float
    updated: float

    @classmethod
    def full(cls, rate: float, burst: float, now: float) -> TokenBucket:
        return cls(rate, burst, burst, now)

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def take(self, now: float, cost: float = 1.0) -> bool:
        """Spend ``cost`` tokens if there are that many; False (and nothing spent) if not."""
        self._refill(now)
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False

    def refund(self, now: float, cost: float = 1.0) -> None:
        """Give back ``cost`` tokens spent on something that turned out not to count."""
        self._refill(now)
        self.tokens = min(self.burst, self.tokens + cost)

    def available(self, now: float, cost: float = 1.0) -> bool:
        self._refill(now)
        return self.tokens >= cost

    def retry_after(self, now: float, cost: float = 1.0) -> float:
        """Seconds until ``cost`` tokens are there."""
        self._refill(now)
        missing = cost - self.tokens
        return 0.0 if missing <= 0 else missing / self.rate


class KeyedBuckets:
    """One bucket per key (a username, an address), the least recently used dropped
    past ``max_keys`` so that a flood of new keys cannot grow memory without end."""

    def __init__(self, rate: float, burst: float, *, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def bucket(self, key: str, now: float) -> TokenBucket:
        found = self._buckets.get(key)
        if found is None:
            found = TokenBucket.full(self.rate, self.burst, now)
            self._buckets[key] = found
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return found
