"""The response cache: in-memory by default, Redis (shared by every replica) when configured.

Entries are envelopes ``{"v": value, "t": stored_at}`` (``t`` in epoch seconds) serialised
with orjson, stored with a hard TTL of ``ttl + stale_ttl``. A read reports whether the entry
is still fresh (younger than the caller's ``ttl``); an older entry may still be served as
``STALE`` when the backend fails (stale-while-revalidate). Values must be JSON-able: callers
store ``model.model_dump(mode="json")`` and revalidate with the model on read.

In memory the cache is bounded: at most ``memory_max_entries`` entries, the least recently used
evicted first to make room, each one dropped once its hard TTL has passed on the cache's clock
(cachetools' ``TLRUCache``; no timer per key). See decision 0010.

The cache is an optimisation and never fails a request: a Redis error or a Redis slower than
``redis_timeout_s`` makes a read a miss and a write a no-op, and Redis is then skipped for
``redis_cooldown_s`` so an unreachable Redis costs nothing per call (the shared failure
policy, :class:`clients.redis.RedisPolicy`; the outage and its end are each logged once).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

import orjson
from aiocache.backends.redis import RedisCache
from aiocache.base import BaseCache
from aiocache.serializers import BaseSerializer, NullSerializer
from cachetools import TLRUCache

from clients.config import CacheConfig
from clients.redis import RedisPolicy, RedisUnavailable, redis_client

__all__ = ["ResponseCache"]


log = logging.getLogger(__name__)


class _OrjsonSerializer(BaseSerializer):  # type: ignore[misc]
    """Bytes in, bytes out: the same representation in memory and in Redis."""

    DEFAULT_ENCODING = None

    def dumps(self, value: Any) -> bytes:
        return orjson.dumps(value)

    def loads(self, value: bytes | str | None) -> Any:
        if value is None:
            return None
        return orjson.loads(value)


def _redis_cache(url: str, timeout_s: float) -> BaseCache:
    """aiocache over the pool of :func:`redis_client` (aiocache would open its own)."""
    pool = redis_client(url, timeout_s=timeout_s).connection_pool
    return RedisCache(
        serializer=_OrjsonSerializer(),
        timeout=None,  # bounded by the RedisPolicy
        connection_pool_class=lambda **_aiocache_defaults: pool,
    )


def _expires_at(_key: str, item: tuple[Any, float | None], now: float) -> float:
    """TLRU time-to-use: the hard TTL the entry was stored with (none: no expiry)."""
    ttl = item[1]
    return now + ttl if ttl else math.inf


class _BoundedStore(TLRUCache[str, tuple[Any, float | None]]):
    """``(value, ttl)`` per key: per-key TTL on the clock, LRU eviction; counts evictions."""

    def __init__(self, max_entries: int, clock: Callable[[], float]) -> None:
        super().__init__(max_entries, _expires_at, timer=clock)
        self.evictions = 0

    def popitem(self) -> tuple[str, tuple[Any, float | None]]:
        # TLRUCache calls this only to make room (after dropping expired entries first)
        item = super().popitem()
        self.evictions += 1
        return item


class _BoundedMemoryCache(BaseCache):  # type: ignore[misc]
    """aiocache's in-memory backend with a hard bound on the number of entries.

    Values are kept as they are (no serializer). Unlike ``SimpleMemoryCache`` there is no
    ``loop.call_later`` handle per key: expiry is checked on read against ``clock`` and
    expired entries are purged on write. Only the operations :class:`ResponseCache` uses
    (``multi_get``, ``multi_set``, ``delete``, ``clear``) are implemented.
    """

    NAME = "bounded-memory"

    def __init__(self, max_entries: int, clock: Callable[[], float]) -> None:
        super().__init__(serializer=NullSerializer(), timeout=None)
        self.store = _BoundedStore(max_entries, clock)

    def read(self, keys: Iterable[str]) -> list[Any]:
        """The values under ``keys`` (None where absent), without aiocache's per-operation
        wrappers: :class:`ResponseCache` calls this directly on the request path."""
        # ``store[key]`` rather than ``store.get`` (a containment check, then a lookup), and
        # the clock read once for the batch: a page reads hundreds of catalog entries
        store = self.store
        values: list[Any] = []
        with store.timer:
            for key in keys:
                try:
                    values.append(store[key][0])
                except KeyError:
                    values.append(None)
        return values

    def write(self, pairs: Iterable[tuple[str, Any]], ttl: float | None) -> None:
        """Store ``pairs``, each for ``ttl`` seconds (for ever when None)."""
        store = self.store
        with store.timer:
            for key, value in pairs:
                store[key] = (value, ttl)

    async def _multi_get(
        self, keys: list[str], encoding: str | None = None, _conn: Any = None
    ) -> list[Any]:
        return self.read(keys)

    async def _multi_set(
        self, pairs: Iterable[tuple[str, Any]], ttl: float | None = None, _conn: Any = None
    ) -> bool:
        self.write(pairs, ttl)
        return True

    # the clock is frozen (``with store.timer``) across a read-then-delete, so an entry
    # cannot expire between the two halves of ``pop``

    async def _delete(self, key: str, _conn: Any = None) -> int:
        with self.store.timer:
            return 0 if self.store.pop(key, None) is None else 1

    async def _clear(self, namespace: str | None = None, _conn: Any = None) -> bool:
        store = self.store
        with store.timer:
            store.expire()
            for key in list(store):
                if not namespace or key.startswith(namespace):
                    store.pop(key, None)
        return True


class ResponseCache:
    """Envelope cache over aiocache with a fresh/stale distinction.

    Args:
        config: backend selection (memory or Redis), namespace, Redis bounds and the
            in-memory bound.
        clock: epoch seconds used for ``stored_at``, freshness and in-memory expiry;
            injected by tests.

    Example usage:
        ```python
        cache = ResponseCache(CacheConfig())
        await cache.set("ranking:abc", response.model_dump(mode="json"), 60, stale_ttl_s=3600)
        entry = await cache.get("ranking:abc", 60)
        if entry is not None:
            value, fresh = entry
        ```
    """

    def __init__(self, config: CacheConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self._clock = clock
        self._redis = config.redis_url is not None
        self._memory: _BoundedMemoryCache | None = None
        self._cache: BaseCache
        if config.redis_url is not None:
            self._cache = _redis_cache(config.redis_url, config.redis_timeout_s)
        else:
            # in memory, values are kept as the (frozen) objects themselves: no encoding,
            # no decoding, no re-validation on the request path
            self._memory = _BoundedMemoryCache(config.memory_max_entries, clock)
            self._cache = self._memory
        self._policy = RedisPolicy(
            "response cache",
            timeout_s=config.redis_timeout_s,
            cooldown_s=config.redis_cooldown_s,
        )

    @property
    def stores_objects(self) -> bool:
        """Whether values may be stored as Python objects (in memory) rather than JSON."""
        return not self._redis

    @property
    def shared(self) -> bool:
        """Whether entries live in Redis (shared by replicas) rather than in this process."""
        return self._redis

    @property
    def size(self) -> int | None:
        """Entries held in memory (expired ones not yet purged included); ``None`` with Redis."""
        return None if self._memory is None else len(self._memory.store)

    @property
    def evictions(self) -> int | None:
        """Entries evicted from memory to make room since start; ``None`` with Redis."""
        return None if self._memory is None else self._memory.store.evictions

    @property
    def available(self) -> bool:
        """False while a Redis outage is cooling down."""
        return self._policy.available

    def _key(self, key: str) -> str:
        return f"{self.config.namespace}:{key}"

    async def get(self, key: str, ttl_s: float) -> tuple[Any, bool] | None:
        """The value stored under ``key`` and whether it is fresh (younger than ``ttl_s``).

        Returns ``None`` on a miss, an unreadable entry or a cache failure.
        """
        found = await self.get_many([key], ttl_s)
        return found.get(key)

    async def get_many(self, keys: Iterable[str], ttl_s: float) -> dict[str, tuple[Any, bool]]:
        """Like :meth:`get` for several keys; absent keys are left out of the result."""
        keys = list(dict.fromkeys(keys))
        if not keys:
            return {}
        memory = self._memory
        if memory is not None:
            # in process: no failure to guard against, no envelope but ours
            now = self._clock()
            namespace = f"{self.config.namespace}:"
            envelopes = memory.read([namespace + k for k in keys])
            return {
                key: (envelope["v"], now - envelope["t"] < ttl_s)
                for key, envelope in zip(keys, envelopes, strict=True)
                if envelope is not None
            }
        raw = await self._guard(self._cache.multi_get([self._key(k) for k in keys]))
        if raw is None:
            return {}
        now = self._clock()
        found: dict[str, tuple[Any, bool]] = {}
        for key, envelope in zip(keys, cast(list[Any], raw), strict=True):
            if (
                isinstance(envelope, dict)
                and "v" in envelope
                and isinstance(envelope.get("t"), int | float)
            ):
                found[key] = (envelope["v"], now - envelope["t"] < ttl_s)
        return found

    async def set(self, key: str, value: Any, ttl_s: float, *, stale_ttl_s: float = 0.0) -> None:
        """Store a JSON-able ``value``: fresh for ``ttl_s``, then stale for ``stale_ttl_s``."""
        await self.set_many({key: value}, ttl_s, stale_ttl_s=stale_ttl_s)

    async def set_many(
        self, items: Mapping[str, Any], ttl_s: float, *, stale_ttl_s: float = 0.0
    ) -> None:
        """Store several values with the same TTLs."""
        if not items:
            return
        now = self._clock()
        pairs = [(self._key(k), {"v": v, "t": now}) for k, v in items.items()]
        if self._memory is not None:
            self._memory.write(pairs, float(ttl_s + stale_ttl_s))
            return
        await self._guard(self._cache.multi_set(pairs, ttl=float(ttl_s + stale_ttl_s)))

    async def delete(self, key: str) -> None:
        """Remove one entry (best effort)."""
        await self._guard(self._cache.delete(self._key(key)))

    async def clear(self) -> None:
        """Remove every entry of this cache's namespace (best effort)."""
        await self._guard(self._cache.clear(namespace=f"{self.config.namespace}:"))

    async def aclose(self) -> None:
        """Release the Redis connection pool."""
        try:
            await self._cache.close()
        except Exception:  # pragma: no cover - closing a dead pool
            log.debug("cache close failed", exc_info=True)

    async def _guard(self, op: Any) -> Any:
        """Run one cache operation; any failure or slowness is a miss / skipped write."""
        try:
            if self._redis:
                return await self._policy.run(op)
            return await op
        except orjson.JSONEncodeError:
            log.exception("response cache: value is not JSON-able; not cached")
        except RedisUnavailable:
            pass
        except Exception:  # the cache must never fail a request
            log.warning("response cache operation failed", exc_info=True)
        return None
