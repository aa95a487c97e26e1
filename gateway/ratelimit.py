"""Rate limiting per viewer (or client IP for anonymous callers): a token bucket.

In memory by default (per process: with N workers a viewer gets up to N× the rate), in
Redis when the shared cache is configured, so all replicas share one bucket per viewer.
The in-memory buckets are :class:`resolvers.token_bucket.TokenBuckets`; the Redis bucket is
the same algorithm as one Lua script (atomic, one round trip). A failing Redis lets requests
through (the shared failure policy, :class:`clients.redis.RedisPolicy`, so a Redis outage
is skipped for a cool-down instead of costing every request a timeout): rate limiting
protects the backends, it must not become an outage of its own.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from clients.redis import RedisPolicy, RedisUnavailable, redis_client
from resolvers.token_bucket import TokenBuckets

# KEYS[1] bucket; ARGV: rate (tokens/s), burst, now (s). Returns {allowed, retry_after_ms}.
_BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local wait_ms = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait_ms = math.ceil((1 - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, wait_ms}
"""


@dataclass(frozen=True, slots=True)
class Quota:
    rate: float
    burst: int


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after_s: int = 0


class RateLimiter:
    """Token buckets keyed by viewer; ``check`` spends one token or says when to retry."""

    def __init__(
        self,
        redis_url: str | None = None,
        *,
        namespace: str = "pgw",
        timeout_s: float = 0.05,
        cooldown_s: float = 5.0,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._buckets = TokenBuckets(max_keys)
        self._clock = clock
        self._namespace = namespace
        self._redis = redis_client(redis_url, timeout_s=timeout_s) if redis_url else None
        self._script = self._redis.register_script(_BUCKET_LUA) if self._redis else None
        self._policy = RedisPolicy("rate limiter", timeout_s=timeout_s, cooldown_s=cooldown_s)

    async def check(self, key: str, quota: Quota) -> Decision:
        if self._script is not None:
            try:
                allowed, wait_ms = await self._policy.run(
                    self._script(
                        keys=[f"{self._namespace}:rl:{key}"],
                        args=[quota.rate, quota.burst, time.time()],
                    )
                )
            except RedisUnavailable:
                return Decision(True)  # logged once per outage by the policy
            return Decision(bool(allowed), math.ceil(int(wait_ms) / 1000))
        wait_s = self._buckets.take(key, rate=quota.rate, burst=quota.burst, now=self._clock())
        return Decision(True) if not wait_s else Decision(False, max(1, math.ceil(wait_s)))

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()


class FailedTokenGuard:
    """Invalid or expired tokens cost their client, and a client that spent its budget is
    refused *before* any verification work (JWKS fetches, signature checks).

    Each failed verification spends one token of the client's ``authfail`` bucket (shared in
    Redis across replicas); once it is empty, the client is remembered as blocked in this
    worker until the bucket refills, and its unknown tokens are refused with a 429 without
    being looked at. Tokens already verified (``TokenVerifier`` remembers them) pass.
    """

    def __init__(
        self,
        limiter: RateLimiter,
        quota: Quota,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 10_000,
    ) -> None:
        self._limiter = limiter
        self._quota = quota
        self._clock = clock
        self._max_clients = max_clients
        self._blocked: dict[str, float] = {}

    def retry_after_s(self, client: str) -> int:
        """Seconds this client must wait before a token of its is verified again (0: go)."""
        until = self._blocked.get(client)
        if until is None:
            return 0
        left = until - self._clock()
        if left <= 0:
            del self._blocked[client]
            return 0
        return max(1, math.ceil(left))

    async def failed(self, client: str) -> int:
        """Count a failed verification; the wait when the client is now blocked, else 0."""
        decision = await self._limiter.check(f"authfail:{client}", self._quota)
        if decision.allowed:
            return 0
        if len(self._blocked) >= self._max_clients:
            now = self._clock()
            self._blocked = {k: v for k, v in self._blocked.items() if v > now}
            if len(self._blocked) >= self._max_clients:
                self._blocked.pop(next(iter(self._blocked)))
        self._blocked[client] = self._clock() + decision.retry_after_s
        return max(1, decision.retry_after_s)
