"""Configuration of the clients: plain pydantic models, no environment reading.

The gateway's ``Settings`` nests these (one :class:`BackendConfig` per backend plus one
:class:`CacheConfig`) and is the only place that reads ``PGW_*`` variables.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["BackendConfig", "BreakerConfig", "CacheConfig", "RetryConfig"]


class RetryConfig(BaseModel):
    """Retry policy: only idempotent calls, only connect errors / 429 / 503, only in budget.

    ``min_attempt_s``: a retry is not started unless at least this much of the call's budget
    would be left after the back-off sleep.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_retries: int = Field(default=1, ge=0, le=5)
    backoff_initial_s: float = Field(default=0.01, ge=0)
    backoff_max_s: float = Field(default=0.05, ge=0)
    jitter_s: float = Field(default=0.01, ge=0)
    min_attempt_s: float = Field(default=0.02, ge=0)


class BreakerConfig(BaseModel):
    """Circuit breaker: opens on ``failure_ratio`` of the last ``window`` calls (at least
    ``min_calls`` of them) or on ``consecutive_failures`` in a row; stays open ``open_s``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    failure_ratio: float = Field(default=0.5, gt=0, le=1)
    window: int = Field(default=20, ge=1)
    min_calls: int = Field(default=10, ge=1)
    consecutive_failures: int = Field(default=5, ge=1)
    open_s: float = Field(default=5.0, gt=0)


class BackendConfig(BaseModel):
    """One backend: where it is, its timeouts, pool, caching and resilience policies.

    ``cache_ttl_s`` ``None`` disables caching for the backend; entries stay readable as
    stale for ``stale_ttl_s`` more seconds. ``negative_ttl_s`` is how long "not found"
    answers (catalog ``missing`` ids) are remembered.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str
    timeout_s: float = Field(default=0.25, gt=0)
    connect_timeout_s: float = Field(default=0.05, gt=0)
    max_connections: int = Field(default=200, ge=1)
    cache_ttl_s: float | None = Field(default=None, gt=0)
    stale_ttl_s: float = Field(default=3600, ge=0)
    negative_ttl_s: float = Field(default=30, ge=0)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    breaker: BreakerConfig = Field(default_factory=BreakerConfig)


class CacheConfig(BaseModel):
    """Response cache: in-memory unless ``redis_url`` is set (then shared by all replicas).

    Every Redis operation is bounded by ``redis_timeout_s``; after a Redis failure the cache
    skips Redis for ``redis_cooldown_s``. In memory, at most ``memory_max_entries`` entries are
    kept: the least recently used one is evicted to make room (decision 0010).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    redis_url: str | None = None
    namespace: str = "pgw"
    redis_timeout_s: float = Field(default=0.05, gt=0)
    redis_cooldown_s: float = Field(default=5.0, ge=0)
    memory_max_entries: int = Field(default=10_000, ge=1)
