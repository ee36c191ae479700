"""Keyed token buckets keep at most ``max_keys`` keys, dropping the least
recently used, so a flood of new keys cannot grow memory without end."""

from __future__ import annotations

from chat_trio.ratelimit import KeyedBuckets


def test_past_max_keys_the_least_recently_used_bucket_is_dropped() -> None:
    buckets = KeyedBuckets(1.0, 1.0, max_keys=2)
    assert buckets.bucket("a", 0.0).take(0.0)
    assert buckets.bucket("b", 0.0).take(0.0)
    assert not buckets.bucket("a", 0.0).take(0.0)  # "a" is empty, and now the most recent
    buckets.bucket("c", 0.0)  # three keys: "b", the least recently used, goes
    assert not buckets.bucket("a", 0.0).take(0.0)  # kept: still empty
    assert buckets.bucket("b", 0.0).take(0.0)  # dropped, so a full bucket again
