"""The one token bucket: the rate limiter's and the event recorder's."""

from __future__ import annotations

from resolvers.token_bucket import TokenBuckets


def test_burst_then_refill_at_the_rate() -> None:
    buckets = TokenBuckets()
    assert [buckets.take("k", rate=2.0, burst=2, now=0.0) for _ in range(2)] == [0.0, 0.0]
    assert buckets.take("k", rate=2.0, burst=2, now=0.0) == 0.5  # a token in half a second
    assert buckets.take("k", rate=2.0, burst=2, now=0.5) == 0.0
    assert buckets.take("other", rate=2.0, burst=2, now=0.5) == 0.0  # its own bucket


def test_bounded_forgetting_the_least_recently_used() -> None:
    buckets = TokenBuckets(max_keys=2)
    buckets.take("a", rate=1.0, burst=1, now=0.0)
    buckets.take("b", rate=1.0, burst=1, now=0.0)
    buckets.take("a", rate=1.0, burst=1, now=0.0)  # refused, and now the most recent
    buckets.take("c", rate=1.0, burst=1, now=0.0)
    assert len(buckets) == 2
    assert buckets.take("a", rate=1.0, burst=1, now=0.0) > 0  # still remembered: empty
    assert buckets.take("b", rate=1.0, burst=1, now=0.0) == 0.0  # forgotten: full again
