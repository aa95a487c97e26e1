"""ResponseCache in memory: a hard bound on entries (LRU eviction), expiry on the cache's clock.

Decision 0010. Every test runs on a fake clock: no sleeps, no timers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from pydantic import ValidationError

from clients import CacheConfig, ResponseCache
from clients.contracts import CandidatesResponse
from tests.clients.conftest import FakeClock

MAX = 100


@pytest.fixture
async def small(epoch: FakeClock) -> AsyncIterator[ResponseCache]:
    cache = ResponseCache(CacheConfig(namespace="bounded", memory_max_entries=MAX), clock=epoch)
    yield cache
    await cache.aclose()


def sized(epoch: FakeClock, max_entries: int) -> ResponseCache:
    return ResponseCache(
        CacheConfig(namespace="bounded", memory_max_entries=max_entries), clock=epoch
    )


def test_the_bound_is_a_setting_with_a_default() -> None:
    assert CacheConfig().memory_max_entries == 10_000
    assert CacheConfig(memory_max_entries=10).memory_max_entries == 10
    with pytest.raises(ValidationError):
        CacheConfig(memory_max_entries=0)


async def test_twice_the_bound_keeps_the_most_recent_entries(small: ResponseCache) -> None:
    for n in range(MAX):
        await small.set(f"k{n}", n, 60, stale_ttl_s=3600)
    await small.set_many({f"k{n}": n for n in range(MAX, 2 * MAX)}, 60, stale_ttl_s=3600)
    assert small.size == MAX
    assert small.evictions == MAX
    found = await small.get_many([f"k{n}" for n in range(2 * MAX)], 60)
    assert set(found) == {f"k{n}" for n in range(MAX, 2 * MAX)}
    assert all(found[f"k{n}"] == (n, True) for n in range(MAX, 2 * MAX))


async def test_a_read_makes_an_entry_recently_used(small: ResponseCache) -> None:
    for n in range(MAX):
        await small.set(f"k{n}", n, 60)
    # read the ten oldest: they are now the most recently used
    assert len(await small.get_many([f"k{n}" for n in range(10)], 60)) == 10
    await small.set_many({f"new{n}": n for n in range(MAX - 10)}, 60)
    assert small.size == MAX
    found = await small.get_many([f"k{n}" for n in range(MAX)], 60)
    assert set(found) == {f"k{n}" for n in range(10)}  # read: kept; never read: evicted
    assert len(await small.get_many([f"new{n}" for n in range(MAX - 10)], 60)) == MAX - 10


async def test_a_write_makes_an_entry_recently_used(epoch: FakeClock) -> None:
    cache = sized(epoch, 3)
    await cache.set_many({"a": 1, "b": 2, "c": 3}, 60)
    await cache.set("a", 10, 60)  # rewritten: now the most recently used
    await cache.set("d", 4, 60)
    assert await cache.get_many(["a", "b", "c", "d"], 60) == {
        "a": (10, True),
        "c": (3, True),
        "d": (4, True),
    }
    assert cache.evictions == 1


async def test_each_entry_expires_after_its_own_ttl(small: ResponseCache, epoch: FakeClock) -> None:
    await small.set("short", 1, 5)
    await small.set("long", 2, 5, stale_ttl_s=60)
    epoch.advance(5)
    assert await small.get("short", 5) is None
    assert await small.get("long", 5) == (2, False)
    epoch.advance(60)
    assert await small.get("long", 5) is None


async def test_expired_entries_go_before_any_live_one_is_evicted(epoch: FakeClock) -> None:
    cache = sized(epoch, 2)
    await cache.set("old", 1, 5)
    await cache.set("live", 2, 600)
    epoch.advance(10)
    await cache.set("new", 3, 600)
    assert cache.evictions == 0
    assert cache.size == 2
    assert await cache.get_many(["old", "live", "new"], 600) == {
        "live": (2, True),
        "new": (3, True),
    }


async def test_expired_entries_are_purged_on_write(small: ResponseCache, epoch: FakeClock) -> None:
    await small.set_many({f"k{n}": n for n in range(50)}, 10, stale_ttl_s=20)
    assert small.size == 50
    epoch.advance(30)
    await small.set("fresh", 1, 10)
    assert small.size == 1
    assert small.evictions == 0


async def test_rewriting_an_entry_restarts_its_ttl(small: ResponseCache, epoch: FakeClock) -> None:
    await small.set("k", 1, 10)
    epoch.advance(8)
    await small.set("k", 2, 10)
    epoch.advance(8)
    assert await small.get("k", 10) == (2, True)
    epoch.advance(2)
    assert await small.get("k", 10) is None


async def test_fresh_and_stale_envelopes_are_unchanged(
    small: ResponseCache, epoch: FakeClock
) -> None:
    value = CandidatesResponse(candidates=[], source_version="v1")
    await small.set("k", value, 10, stale_ttl_s=100)
    found = await small.get("k", 10)
    assert found is not None
    assert found[0] is value  # the object itself: no encoding in memory
    assert found[1] is True
    epoch.advance(10)
    assert await small.get("k", 10) == (value, False)
    # freshness is the reader's ttl, not the writer's
    assert await small.get("k", 60) == (value, True)
    assert small.stores_objects
    assert not small.shared


async def test_delete_and_clear(small: ResponseCache) -> None:
    await small.set_many({"a": 1, "b": 2, "c": 3}, 10)
    await small.delete("a")
    await small.delete("missing")
    assert await small.get_many(["a", "b", "c"], 10) == {"b": (2, True), "c": (3, True)}
    assert small.size == 2
    await small.clear()
    assert small.size == 0
    assert await small.get_many(["b", "c"], 10) == {}
    assert small.evictions == 0  # removals are not evictions


async def test_no_timer_is_scheduled_per_entry(
    small: ResponseCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()
    scheduled: list[Any] = []

    def call_later(delay: float, callback: Callable[..., Any], *args: Any) -> Any:
        scheduled.append((delay, callback))
        raise AssertionError("no timer handle per key")

    monkeypatch.setattr(loop, "call_later", call_later)
    await small.set_many({f"k{n}": n for n in range(3 * MAX)}, 60, stale_ttl_s=3600)
    await small.set("one", 1, 60)
    assert scheduled == []
    assert small.size == MAX


async def test_size_and_evictions_are_only_for_memory() -> None:
    cache = ResponseCache(CacheConfig(redis_url="redis://127.0.0.1:1/0"))
    try:
        assert cache.size is None
        assert cache.evictions is None
    finally:
        await cache.aclose()
