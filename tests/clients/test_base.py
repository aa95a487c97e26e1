"""BackendClient behaviour: retries, deadlines, breaker, cache, single-flight, stale."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import respx

from clients import (
    BackendMalformed,
    BackendRejected,
    BackendTimeout,
    BackendUnavailable,
    BanditClient,
    BreakerConfig,
    BreakerState,
    CacheResult,
    CircuitOpen,
    Deadline,
    ResponseCache,
    RetrievalClient,
    RetryConfig,
)
from clients.contracts import (
    CandidatesResponse,
    DecideRequest,
    DecideResponse,
    Location,
    RequestContext,
)
from tests.clients.conftest import (
    FakeClock,
    Gate,
    RecordingObserver,
    backend_config,
    candidates_request,
    candidates_response,
    hang,
    json_response,
    transport,
)

OK = candidates_response("v1", "v2")


def retrieval(
    router: respx.MockRouter | None,
    cache: ResponseCache,
    *,
    handler: httpx.MockTransport | None = None,
    observer: RecordingObserver | None = None,
    clock: FakeClock | None = None,
    **config: object,
) -> RetrievalClient:
    mock = handler if handler is not None else transport(router)  # type: ignore[arg-type]
    return RetrievalClient(
        "retrieval",
        backend_config(**config),
        cache,
        transport=mock,
        observer=observer,
        clock=clock or time.monotonic,
    )


class TestRetries:
    @pytest.mark.parametrize(
        "failure",
        [
            httpx.Response(503),
            httpx.Response(429),
            httpx.ConnectError("refused"),
        ],
        ids=["503", "429", "connect"],
    )
    async def test_retries_transient_failures_once(
        self, router: respx.MockRouter, cache: ResponseCache, failure: object
    ) -> None:
        route = router.post("/v1/candidates").mock(side_effect=[failure, json_response(OK)])
        observer = RecordingObserver()
        async with retrieval(router, cache, observer=observer) as client:
            fetched = await client.candidates(candidates_request(), Deadline.after(1))
        assert fetched.value == OK
        assert fetched.attempts == 2
        assert route.call_count == 2
        assert observer.retries == [("retrieval", "candidates")]

    async def test_gives_up_after_max_retries(
        self, router: respx.MockRouter, cache: ResponseCache
    ) -> None:
        route = router.post("/v1/candidates").mock(return_value=httpx.Response(503))
        async with retrieval(router, cache) as client:
            with pytest.raises(BackendUnavailable) as info:
                await client.candidates(candidates_request(), Deadline.after(1))
        assert info.value.status == 503
        assert info.value.attempts == 2
        assert route.call_count == 2

    @pytest.mark.parametrize("status", [500, 502, 504])
    async def test_other_5xx_are_not_retried(
        self, router: respx.MockRouter, cache: ResponseCache, status: int
    ) -> None:
        route = router.post("/v1/candidates").mock(return_value=httpx.Response(status))
        async with retrieval(router, cache) as client:
            with pytest.raises(BackendUnavailable):
                await client.candidates(candidates_request(), Deadline.after(1))
        assert route.call_count == 1

    async def test_non_idempotent_calls_are_not_retried(
        self, router: respx.MockRouter, cache: ResponseCache
    ) -> None:
        route = router.post("/v1/decide").mock(return_value=httpx.Response(503))
        request = DecideRequest(
            decision_point="discovery.section_order",
            arms=["a", "b"],
            context=RequestContext(location=Location(lat=1, lon=1), local_time="2026-01-05T12:00"),
        )
        async with BanditClient(
            "bandit", backend_config(), cache, transport=transport(router)
        ) as client:
            with pytest.raises(BackendUnavailable):
                await client.decide(request, Deadline.after(1))
        assert route.call_count == 1

    async def test_never_retries_past_the_deadline(
        self, router: respx.MockRouter, cache: ResponseCache
    ) -> None:
        route = router.post("/v1/candidates").mock(return_value=httpx.Response(503))
        retry = RetryConfig(max_retries=5, backoff_initial_s=0.1, backoff_max_s=0.1, jitter_s=0)
        started = time.perf_counter()
        async with retrieval(router, cache, retry=retry) as client:
            with pytest.raises(BackendUnavailable):
                await client.candidates(candidates_request(), Deadline.after(0.3), reserve_s=0)
        elapsed = time.perf_counter() - started
        # 0.3 s budget, 100 ms sleeps, 20 ms minimum attempt: at most 3 attempts fit (the
        # count is the real check; a busy machine only makes it smaller). The elapsed bound
        # is 3x the budget: it fails on a retry loop that ignores the deadline, not on a slow
        # CI box.
        assert 1 < route.call_count <= 3
        assert elapsed < 3 * 0.3

    async def test_timeouts_are_not_retried(self, cache: ResponseCache) -> None:
        calls = 0

        async def slow(request: httpx.Request) -> httpx.Response:
            nonlocal calls
            calls += 1
            return await hang(request)

        client = retrieval(None, cache, handler=httpx.MockTransport(slow), timeout_s=0.02)
        async with client:
            with pytest.raises(BackendTimeout):
                await client.candidates(candidates_request(), Deadline.after(1))
        assert calls == 1


class TestDeadline:
    async def test_hanging_backend_is_bounded_by_the_deadline(self, cache: ResponseCache) -> None:
        client = retrieval(None, cache, handler=httpx.MockTransport(hang), timeout_s=5)
        started = time.perf_counter()
        async with client:
            with pytest.raises(BackendTimeout):
                await client.candidates(candidates_request(), Deadline.after(0.05), reserve_s=0.01)
        elapsed = time.perf_counter() - started
        assert 0.035 <= elapsed < 0.15  # 40 ms budget, generous slack for a loaded CI box

    async def test_no_budget_fails_fast_without_network(
        self, router: respx.MockRouter, cache: ResponseCache
    ) -> None:
        route = router.post("/v1/candidates").mock(return_value=json_response(OK))
        async with retrieval(router, cache) as client:
            with pytest.raises(BackendTimeout):
                await client.candidates(candidates_request(), Deadline.after(0.01))
        assert route.call_count == 0  # 10 ms left < 15 ms reserve

    async def test_timeout_is_min_of_backend_timeout_and_remaining(
        self, cache: ResponseCache
    ) -> None:
        client = retrieval(None, cache, handler=httpx.MockTransport(hang), timeout_s=0.03)
        started = time.perf_counter()
        async with client:
            with pytest.raises(BackendTimeout):
                await client.candidates(candidates_request(), Deadline.after(5))
        assert time.perf_counter() - started < 0.15  # 30 ms, not 5 s


class TestValidation:
    @pytest.mark.parametrize(
        "response",
        [
            httpx.Response(200, content=b"<html>oops</html>"),
            httpx.Response(200, json={"unexpected": True}),
            httpx.Response(200, json={"candidates": [{"id": 1}], "source_version": "x"}),
        ],
        ids=["not-json", "wrong-shape", "wrong-types"],
    )
    async def test_malformed_bodies_raise_backend_malformed(
        self, router: respx.MockRouter, cache: ResponseCache, response: httpx.Response
    ) -> None:
        route = router.post("/v1/candidates").mock(return_value=response)
        async with retrieval(router, cache) as client:
            with pytest.raises(BackendMalformed) as info:
                await client.candidates(candidates_request(), Deadline.after(1))
        assert route.call_count == 1  # never retried
        assert info.value.__cause__ is not None
        assert not isinstance(info.value.__cause__, BackendMalformed)

    async def test_malformed_counts_against_the_breaker(
        self, router: respx.MockRouter, cache: ResponseCache, monotonic: FakeClock
    ) -> None:
        route = router.post("/v1/candidates").mock(return_value=httpx.Response(200, json={}))
        observer = RecordingObserver()
        breaker = BreakerConfig(consecutive_failures=3, open_s=5)
        client = retrieval(router, cache, observer=observer, clock=monotonic, breaker=breaker)
        async with client:
            for n in range(3):
                with pytest.raises(BackendMalformed):
                    await client.candidates(candidates_request(limit=n + 1), Deadline.after(1))
            assert client.breaker.state is BreakerState.OPEN
            with pytest.raises(CircuitOpen):
                await client.candidates(candidates_request(limit=9), Deadline.after(1))
            assert route.call_count == 3
            assert observer.states == [("retrieval", BreakerState.OPEN)]
            assert [c[2] for c in observer.calls] == ["malformed"] * 3 + ["circuit_open"]

            # recovery: after open_s one probe goes through and closes the breaker
            monotonic.advance(5)
            route.mock(return_value=json_response(OK))
            fetched = await client.candidates(candidates_request(limit=10), Deadline.after(1))
            assert fetched.value == OK
            assert client.breaker.state is BreakerState.CLOSED

    async def test_4xx_is_rejected_not_retried_and_not_counted(
        self, router: respx.MockRouter, cache: ResponseCache
    ) -> None:
        route = router.post("/v1/candidates").mock(return_value=httpx.Response(400))
        client = retrieval(router, cache, breaker=BreakerConfig(consecutive_failures=1))
        async with client:
            for _ in range(3):
                with pytest.raises(BackendRejected) as info:
                    await client.candidates(candidates_request(), Deadline.after(1))
            assert info.value.status == 400
            assert client.breaker.state is BreakerState.CLOSED
        assert route.call_count == 3


class TestCache:
    async def test_fresh_hit_makes_no_call(
        self, router: respx.MockRouter, cache: ResponseCache
    ) -> None:
        route = router.post("/v1/candidates").mock(return_value=json_response(OK))
        async with retrieval(router, cache, cache_ttl_s=60) as client:
            first = await client.candidates(candidates_request(), Deadline.after(1))
            second = await client.candidates(candidates_request(), Deadline.after(1))
            other = await client.candidates(candidates_request(limit=3), Deadline.after(1))
        assert (first.cache, first.attempts) == (CacheResult.MISS, 1)
        assert (second.cache, second.attempts) == (CacheResult.HIT, 0)
        assert second.value == OK
        assert other.cache is CacheResult.MISS
        assert route.call_count == 2

    async def test_uncached_backend_bypasses(
        self, router: respx.MockRouter, cache: ResponseCache
    ) -> None:
        route = router.post("/v1/candidates").mock(return_value=json_response(OK))
        async with retrieval(router, cache, cache_ttl_s=None) as client:
            for _ in range(2):
                fetched = await client.candidates(candidates_request(), Deadline.after(1))
                assert fetched.cache is CacheResult.BYPASS
        assert route.call_count == 2

    async def test_stale_is_served_when_the_backend_fails_after_expiry(
        self, router: respx.MockRouter, cache: ResponseCache, epoch: FakeClock
    ) -> None:
        route = router.post("/v1/candidates").mock(return_value=json_response(OK))
        observer = RecordingObserver()
        async with retrieval(router, cache, observer=observer, cache_ttl_s=60) as client:
            await client.candidates(candidates_request(), Deadline.after(1))
            epoch.advance(61)
            route.mock(return_value=httpx.Response(500))
            fetched = await client.candidates(candidates_request(), Deadline.after(1))
        assert fetched.cache is CacheResult.STALE
        assert fetched.value == OK
        assert route.call_count == 2
        assert observer.calls[-1][2:4] == ("error", CacheResult.STALE)

    async def test_expired_entry_is_refreshed_when_the_backend_is_up(
        self, router: respx.MockRouter, cache: ResponseCache, epoch: FakeClock
    ) -> None:
        newer = candidates_response("v9")
        route = router.post("/v1/candidates").mock(
            side_effect=[json_response(OK), json_response(newer)]
        )
        async with retrieval(router, cache, cache_ttl_s=60) as client:
            await client.candidates(candidates_request(), Deadline.after(1))
            epoch.advance(61)
            fetched = await client.candidates(candidates_request(), Deadline.after(1))
            again = await client.candidates(candidates_request(), Deadline.after(1))
        assert (fetched.cache, fetched.value) == (CacheResult.MISS, newer)
        assert (again.cache, again.value) == (CacheResult.HIT, newer)
        assert route.call_count == 2

    async def test_stale_is_served_when_out_of_time(
        self, router: respx.MockRouter, cache: ResponseCache, epoch: FakeClock
    ) -> None:
        route = router.post("/v1/candidates").mock(return_value=json_response(OK))
        async with retrieval(router, cache, cache_ttl_s=60) as client:
            await client.candidates(candidates_request(), Deadline.after(1))
            epoch.advance(61)
            fetched = await client.candidates(candidates_request(), Deadline.after(0))
        assert fetched.cache is CacheResult.STALE
        assert route.call_count == 1

    async def test_errors_are_not_cached(
        self, router: respx.MockRouter, cache: ResponseCache
    ) -> None:
        route = router.post("/v1/candidates").mock(
            side_effect=[httpx.Response(500), json_response(OK)]
        )
        async with retrieval(router, cache, cache_ttl_s=60) as client:
            with pytest.raises(BackendUnavailable):
                await client.candidates(candidates_request(), Deadline.after(1))
            key = client.cache_key("candidates", candidates_request())
            assert await cache.get(key, 60) is None
            fetched = await client.candidates(candidates_request(), Deadline.after(1))
        assert fetched.cache is CacheResult.MISS
        assert route.call_count == 2

    async def test_entry_that_no_longer_fits_the_model_is_a_miss(
        self, router: respx.MockRouter, cache: ResponseCache
    ) -> None:
        route = router.post("/v1/candidates").mock(return_value=json_response(OK))
        async with retrieval(router, cache, cache_ttl_s=60) as client:
            key = client.cache_key("candidates", candidates_request())
            await cache.set(key, {"old": "shape"}, 60)
            fetched = await client.candidates(candidates_request(), Deadline.after(1))
        assert fetched.cache is CacheResult.MISS
        assert route.call_count == 1


class TestSingleFlight:
    @pytest.mark.parametrize("cache_ttl_s", [60.0, None], ids=["cached", "uncached"])
    async def test_fifty_concurrent_identical_calls_make_one_request(
        self, cache: ResponseCache, cache_ttl_s: float | None
    ) -> None:
        gate = Gate(lambda request: json_response(OK))
        client = retrieval(None, cache, handler=httpx.MockTransport(gate), cache_ttl_s=cache_ttl_s)
        async with client:
            calls = [
                asyncio.create_task(client.candidates(candidates_request(), Deadline.after(1)))
                for _ in range(50)
            ]
            await gate.release_when_waiting()
            results = await asyncio.gather(*calls)
        assert gate.arrived == 1
        assert all(r.value == OK for r in results)

    async def test_shared_failure_reaches_every_waiter(self, cache: ResponseCache) -> None:
        gate = Gate(lambda request: httpx.Response(500))
        async with retrieval(None, cache, handler=httpx.MockTransport(gate)) as client:
            calls = [
                asyncio.create_task(client.candidates(candidates_request(), Deadline.after(1)))
                for _ in range(5)
            ]
            await gate.release_when_waiting()
            results = await asyncio.gather(*calls, return_exceptions=True)
        assert gate.arrived == 1
        assert all(isinstance(r, BackendUnavailable) for r in results)

    async def test_waiter_with_a_shorter_deadline_gives_up_alone(
        self, cache: ResponseCache
    ) -> None:
        gate = Gate(lambda request: json_response(OK))
        client = retrieval(None, cache, handler=httpx.MockTransport(gate), cache_ttl_s=60)
        async with client:
            patient = asyncio.create_task(
                client.candidates(candidates_request(), Deadline.after(5))
            )
            await gate.first.wait()
            with pytest.raises(BackendTimeout):
                await client.candidates(candidates_request(), Deadline.after(0.03))
            gate.open.set()
            assert (await patient).value == OK
        assert gate.arrived == 1


class TestLifetime:
    async def test_use_after_close_raises(
        self, router: respx.MockRouter, cache: ResponseCache
    ) -> None:
        client = retrieval(router, cache)
        async with client:
            pass
        assert client.closed
        with pytest.raises(RuntimeError):
            await client.candidates(candidates_request(), Deadline.after(1))
        await client.aclose()  # idempotent

    async def test_headers_are_forwarded(
        self, router: respx.MockRouter, cache: ResponseCache
    ) -> None:
        route = router.post("/v1/candidates").mock(return_value=json_response(OK))
        async with retrieval(router, cache) as client:
            await client.candidates(
                candidates_request(), Deadline.after(1), headers={"x-request-id": "req-1"}
            )
        request = route.calls.last.request
        assert request.headers["x-request-id"] == "req-1"
        assert request.headers["content-type"] == "application/json"
        assert CandidatesResponse  # body is validated against the contract elsewhere

    async def test_observer_sees_hits_misses_and_errors(
        self, router: respx.MockRouter, cache: ResponseCache
    ) -> None:
        router.post("/v1/candidates").mock(side_effect=[json_response(OK), httpx.Response(500)])
        observer = RecordingObserver()
        async with retrieval(router, cache, observer=observer, cache_ttl_s=60) as client:
            await client.candidates(candidates_request(), Deadline.after(1))
            await client.candidates(candidates_request(), Deadline.after(1))
            with pytest.raises(BackendUnavailable):
                await client.candidates(candidates_request(limit=2), Deadline.after(1))
        assert observer.calls == [
            ("retrieval", "candidates", "ok", CacheResult.MISS, 1),
            ("retrieval", "candidates", "ok", CacheResult.HIT, 0),
            ("retrieval", "candidates", "error", CacheResult.MISS, 1),
        ]


def test_decide_response_is_never_cached_shape() -> None:
    assert DecideResponse.model_config.get("frozen")


@pytest.mark.parametrize(
    "base_url", ["http://retrieval.test", "http://127.0.0.1:8001/", "http://svc.test/prefix"]
)
async def test_endpoint_urls_are_merged_as_httpx_merges_them(
    cache: ResponseCache, base_url: str
) -> None:
    """The client merges each path with the base URL once; the result must be the URL httpx
    itself would have requested (a base path prefix kept, no doubled or missing slash)."""
    seen: list[httpx.URL] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return json_response(OK)

    client = RetrievalClient(
        "retrieval",
        backend_config(base_url=base_url),
        cache,
        transport=httpx.MockTransport(answer),
    )
    async with client:
        await client.candidates(candidates_request(), Deadline.after(1))
        await client.candidates(candidates_request(strategy="new"), Deadline.after(1))
    expected = httpx.AsyncClient(base_url=base_url).build_request("POST", "/v1/candidates").url
    assert seen == [expected, expected]
