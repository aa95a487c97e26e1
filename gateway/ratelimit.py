"""Rate limiting per viewer (or client IP for anonymous callers): a token bucket.

In memory by default (per process: with N workers a viewer gets up to N× the rate), in
Redis when the shared cache is configured, so all replicas share one bucket per viewer.
The Redis bucket is one Lua script (atomic, one round trip). A failing Redis lets requests
through: rate limiting protects the backends, it must not become an outage of its own.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

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
        max_keys: int = 100_000,
    ) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._max_keys = max_keys
        self._namespace = namespace
        self._redis: Redis | None = (
            Redis.from_url(redis_url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
            if redis_url
            else None
        )
        self._script = self._redis.register_script(_BUCKET_LUA) if self._redis else None

    async def check(self, key: str, quota: Quota) -> Decision:
        if self._script is not None:
            try:
                allowed, wait_ms = await self._script(
                    keys=[f"{self._namespace}:rl:{key}"],
                    args=[quota.rate, quota.burst, time.time()],
                )
            except RedisError:
                log.warning("rate limiter: Redis unavailable, letting the request through")
                return Decision(True)
            return Decision(bool(allowed), math.ceil(int(wait_ms) / 1000))
        return self._check_memory(key, quota)

    def _check_memory(self, key: str, quota: Quota) -> Decision:
        now = time.monotonic()
        tokens, stamp = self._buckets.get(key, (float(quota.burst), now))
        tokens = min(float(quota.burst), tokens + (now - stamp) * quota.rate)
        if tokens >= 1:
            self._store(key, tokens - 1, now)
            return Decision(True)
        self._store(key, tokens, now)
        return Decision(False, max(1, math.ceil((1 - tokens) / quota.rate)))

    def _store(self, key: str, tokens: float, now: float) -> None:
        if key not in self._buckets and len(self._buckets) >= self._max_keys:
            # Full buckets carry no information: forget the oldest entry to stay bounded.
            self._buckets.pop(next(iter(self._buckets)))
        self._buckets[key] = (tokens, now)

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
