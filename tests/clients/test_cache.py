"""ResponseCache: envelopes, freshness, Redis sharing, an unreachable Redis."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import respx

from clients import CacheConfig, CacheResult, Deadline, ResponseCache, RetrievalClient
from clients.contracts import CandidatesResponse
from tests.clients.conftest import (
    FakeClock,
    backend_config,
    candidates_request,
    candidates_response,
    json_response,
    transport,
)

REDIS_URL = "redis://127.0.0.1:6379/15"


async def test_fresh_then_stale_then_gone(cache: ResponseCache, epoch: FakeClock) -> None:
    await cache.set("k", {"x": [1, 2]}, 10, stale_ttl_s=100)
    assert await cache.get("k", 10) == ({"x": [1, 2]}, True)
    epoch.advance(11)
    assert await cache.get("k", 10) == ({"x": [1, 2]}, False)
    assert await cache.get("missing", 10) is None
    epoch.advance(98.9)  # 109.9 s old: still stale
    assert await cache.get("k", 10) == ({"x": [1, 2]}, False)
    epoch.advance(0.1)  # ttl + stale_ttl reached: gone, on the cache's clock
    assert await cache.get("k", 10) is None


async def test_get_many_and_set_many(cache: ResponseCache) -> None:
    await cache.set_many({"a": 1, "b": None}, 10)
    assert await cache.get_many(["a", "b", "c"], 10) == {"a": (1, True), "b": (None, True)}
    assert await cache.get_many([], 10) == {}


async def test_memory_cache_keeps_validated_objects_as_they_are(cache: ResponseCache) -> None:
    # No encoding, decoding or re-validation on the request path: the frozen contract
    # object itself comes back (values are immutable by contract).
    value = CandidatesResponse(candidates=[], source_version="v1")
    await cache.set("k", value, 10)
    found = await cache.get("k", 10)
    assert found is not None
    assert found[0] is value
    assert cache.stores_objects


@pytest.mark.redis
async def test_unjsonable_values_are_not_cached_in_redis() -> None:
    config = CacheConfig(redis_url=REDIS_URL, namespace=f"pgwtest-{uuid.uuid4().hex[:8]}")
    cache = ResponseCache(config)
    try:
        assert not cache.stores_objects
        await cache.set("k", object(), 10)
        assert await cache.get("k", 10) is None
        assert cache.available
    finally:
        await cache.clear()
        await cache.aclose()


@pytest.fixture
async def redis_pair() -> AsyncIterator[tuple[ResponseCache, ResponseCache]]:
    config = CacheConfig(redis_url=REDIS_URL, namespace=f"pgwtest-{uuid.uuid4().hex[:8]}")
    first, second = ResponseCache(config), ResponseCache(config)
    yield first, second
    await first.clear()
    await first.aclose()
    await second.aclose()


@pytest.mark.redis
async def test_two_instances_share_entries_through_redis(
    redis_pair: tuple[ResponseCache, ResponseCache],
) -> None:
    first, second = redis_pair
    assert first.shared
    await first.set("ranking:abc", {"scores": [{"id": "v1", "score": 0.5}]}, 60)
    assert await second.get("ranking:abc", 60) == (
        {"scores": [{"id": "v1", "score": 0.5}]},
        True,
    )
    await second.set_many({"catalog:venue:v1:a": None}, 60)
    assert await first.get_many(["catalog:venue:v1:a"], 60) == {"catalog:venue:v1:a": (None, True)}
    assert first.available


@pytest.mark.redis
async def test_two_clients_share_a_response_through_redis(
    redis_pair: tuple[ResponseCache, ResponseCache],
) -> None:
    """Replica A fetches, replica B is served from the shared cache with no request."""
    first_cache, second_cache = redis_pair
    router = respx.MockRouter(base_url="http://backend.test", assert_all_called=False)
    route = router.post("/v1/candidates").mock(return_value=json_response(candidates_response("a")))
    config = backend_config(cache_ttl_s=60)
    async with (
        RetrievalClient("retrieval", config, first_cache, transport=transport(router)) as a,
        RetrievalClient("retrieval", config, second_cache, transport=transport(router)) as b,
    ):
        assert (
            await a.candidates(candidates_request(), Deadline.after(1))
        ).cache is CacheResult.MISS
        assert (
            await b.candidates(candidates_request(), Deadline.after(1))
        ).cache is CacheResult.HIT
    assert route.call_count == 1


async def test_unreachable_redis_never_fails_a_call(caplog: pytest.LogCaptureFixture) -> None:
    cache = ResponseCache(CacheConfig(redis_url="redis://127.0.0.1:1/0", redis_timeout_s=0.05))
    router = respx.MockRouter(base_url="http://backend.test", assert_all_called=False)
    route = router.post("/v1/candidates").mock(return_value=json_response(candidates_response("a")))
    started = time.perf_counter()
    async with RetrievalClient(
        "retrieval", backend_config(cache_ttl_s=60), cache, transport=transport(router)
    ) as client:
        for _ in range(20):
            fetched = await client.candidates(candidates_request(), Deadline.after(1))
            assert fetched.cache is CacheResult.MISS
    elapsed = time.perf_counter() - started
    await cache.aclose()
    assert route.call_count == 20
    assert not cache.available  # cooling down: later calls skip Redis entirely
    assert elapsed < 0.5
    warnings = [r for r in caplog.records if r.levelname == "WARNING" and "redis" in r.message]
    assert len(warnings) == 1


async def test_slow_redis_is_bounded_by_redis_timeout() -> None:
    """A Redis that accepts connections but never answers costs at most redis_timeout_s."""
    done = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await done.wait()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    cache = ResponseCache(
        CacheConfig(redis_url=f"redis://127.0.0.1:{port}/0", redis_timeout_s=0.03)
    )
    try:
        started = time.perf_counter()
        assert await cache.get("k", 10) is None
        await cache.set("k", 1, 10)
        assert time.perf_counter() - started < 0.2
        # one or two slow answers (a busy event loop) do not switch Redis off...
        assert cache.available
        assert await cache.get("k", 10) is None
        # ...a run of three does
        assert not cache.available
    finally:
        done.set()
        await cache.aclose()
        server.close()
        await server.wait_closed()


def test_rejects_non_redis_url() -> None:
    with pytest.raises(ValueError, match="redis://"):
        ResponseCache(CacheConfig(redis_url="http://127.0.0.1:6379"))
