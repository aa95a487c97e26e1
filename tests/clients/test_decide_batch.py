"""``BanditClient.decide_many``: one ``POST /v1/decide:batch`` for every decision the cache
lacks; never retried; each decision cached (with its id) as ``decide`` caches it."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import httpx
import pytest
import respx

from clients import (
    BackendMalformed,
    BackendRejected,
    BackendUnavailable,
    BanditClient,
    CacheResult,
    Deadline,
    Fetched,
    ResponseCache,
)
from clients.bandit import decide_cache_parts
from clients.contracts import (
    Arm,
    DecideBatchRequest,
    DecideBatchResponse,
    DecideRequest,
    DecideResponse,
    Location,
    RequestContext,
)
from clients.contracts.bandit import MAX_BATCH_REQUESTS
from tests.clients.conftest import (
    FakeClock,
    RecordingObserver,
    backend_config,
    json_response,
    transport,
)

CONTEXT = RequestContext(
    location=Location(lat=60.17, lon=24.94),
    local_time="2026-01-05T12:00:00+02:00",
    city="helsinki",
)


def _decide(point: str, arms: list[str], user: str | None = "u0001") -> DecideRequest:
    return DecideRequest(decision_point=point, arms=arms, user_id=user, context=CONTEXT)


def _page() -> list[DecideRequest]:
    """What a discovery page decides: the section order and the banners."""
    return [
        _decide("discovery.section_order", ["for_you", "brands", "new"]),
        _decide("discovery.banners", ["bn1", "bn2"]),
    ]


class _Bandit:
    """A batch endpoint deciding each request with a new id (as a real bandit does)."""

    def __init__(self) -> None:
        self.ids = itertools.count(1)

    def decision(self, req: DecideRequest) -> DecideResponse:
        arms = list(reversed(req.arms))
        return DecideResponse(
            decision_id=f"d{next(self.ids)}-{req.decision_point}",
            ranking=[Arm(arm=a, propensity=1 / len(arms)) for a in arms],
            policy_version="p1",
        )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = DecideBatchRequest.model_validate_json(request.content)
        responses = [self.decision(r) for r in body.requests]
        return json_response(DecideBatchResponse(responses=responses))

    def single(self, request: httpx.Request) -> httpx.Response:
        return json_response(self.decision(DecideRequest.model_validate_json(request.content)))


def _client(
    router: respx.MockRouter,
    cache: ResponseCache,
    *,
    observer: RecordingObserver | None = None,
    **config: object,
) -> BanditClient:
    return BanditClient(
        "bandit", backend_config(**config), cache, transport=transport(router), observer=observer
    )


def _asked(route: respx.Route, call: int = -1) -> list[DecideRequest]:
    return DecideBatchRequest.model_validate_json(route.calls[call].request.content).requests


def _ids(results: Sequence[object]) -> list[str]:
    return [r.value.decision_id for r in results if isinstance(r, Fetched)]


async def test_one_call_then_the_same_decisions_from_the_cache(
    router: respx.MockRouter, cache: ResponseCache
) -> None:
    route = router.post("/v1/decide:batch").mock(side_effect=_Bandit())
    async with _client(router, cache, cache_ttl_s=30) as client:
        first = await client.decide_many(_page(), Deadline.after(1))
        again = await client.decide_many(_page(), Deadline.after(1))
    assert route.call_count == 1
    assert _asked(route) == _page()
    assert [r.cache for r in first if isinstance(r, Fetched)] == [CacheResult.MISS] * 2
    assert [r.cache for r in again if isinstance(r, Fetched)] == [CacheResult.HIT] * 2
    # in request order, each its own decision; a cached one keeps its id (rewards refer to it)
    assert _ids(first) == ["d1-discovery.section_order", "d2-discovery.banners"]
    assert _ids(again) == _ids(first)


async def test_single_and_batched_decisions_share_cache_entries(
    router: respx.MockRouter, cache: ResponseCache
) -> None:
    bandit = _Bandit()
    single = router.post("/v1/decide").mock(side_effect=bandit.single)
    batch = router.post("/v1/decide:batch").mock(side_effect=bandit)
    order, banners = _page()
    async with _client(router, cache, cache_ttl_s=30) as client:
        decided = await client.decide(order, Deadline.after(1))
        results = await client.decide_many([order, banners], Deadline.after(1))
        assert [r.cache for r in results if isinstance(r, Fetched)] == [
            CacheResult.HIT,
            CacheResult.MISS,
        ]
        assert _ids(results)[0] == decided.value.decision_id
        assert _asked(batch) == [banners]
        later = await client.decide(banners, Deadline.after(1))
        assert later.cache is CacheResult.HIT
        assert later.value.decision_id == _ids(results)[1]
    assert (single.call_count, batch.call_count) == (1, 1)


async def test_without_a_ttl_every_batch_is_new_decisions(
    router: respx.MockRouter, cache: ResponseCache
) -> None:
    route = router.post("/v1/decide:batch").mock(side_effect=_Bandit())
    async with _client(router, cache) as client:
        first = await client.decide_many(_page(), Deadline.after(1))
        again = await client.decide_many(_page(), Deadline.after(1))
    assert route.call_count == 2
    assert [r.cache for r in first + again if isinstance(r, Fetched)] == [CacheResult.BYPASS] * 4
    assert len(set(_ids(first + again))) == 4


@pytest.mark.parametrize("status", [503, 429])
async def test_a_batch_is_never_retried(
    router: respx.MockRouter, cache: ResponseCache, status: int
) -> None:
    route = router.post("/v1/decide:batch").mock(return_value=httpx.Response(status))
    async with _client(router, cache) as client:
        results = await client.decide_many(_page(), Deadline.after(1))
    assert route.call_count == 1
    assert all(isinstance(r, BackendUnavailable) and r.status == status for r in results)


async def test_a_failure_is_stale_where_a_decision_is_kept_and_an_error_elsewhere(
    router: respx.MockRouter, cache: ResponseCache, epoch: FakeClock
) -> None:
    route = router.post("/v1/decide:batch").mock(side_effect=_Bandit())
    async with _client(router, cache, cache_ttl_s=30) as client:
        kept = await client.decide_many(_page()[:1], Deadline.after(1))
        epoch.advance(60)  # past the TTL, within the stale window
        route.mock(side_effect=httpx.ConnectError("refused"))
        results = await client.decide_many(_page(), Deadline.after(1))
    assert isinstance(results[0], Fetched)
    assert results[0].cache is CacheResult.STALE
    assert results[0].value.decision_id == _ids(kept)[0]
    assert isinstance(results[1], BackendUnavailable)


async def test_a_rejection_is_never_served_stale(
    router: respx.MockRouter, cache: ResponseCache, epoch: FakeClock
) -> None:
    route = router.post("/v1/decide:batch").mock(side_effect=_Bandit())
    async with _client(router, cache, cache_ttl_s=30) as client:
        await client.decide_many(_page(), Deadline.after(1))
        epoch.advance(60)
        route.mock(return_value=httpx.Response(422, json={"detail": "requests[0]: bad"}))
        results = await client.decide_many(_page(), Deadline.after(1))
    assert all(isinstance(r, BackendRejected) and r.status == 422 for r in results)


async def test_a_wrong_number_of_decisions_is_malformed_and_not_cached(
    router: respx.MockRouter, cache: ResponseCache
) -> None:
    one = DecideBatchResponse(responses=[_Bandit().decision(_page()[0])])
    router.post("/v1/decide:batch").mock(return_value=json_response(one))
    async with _client(router, cache, cache_ttl_s=30) as client:
        results = await client.decide_many(_page(), Deadline.after(1))
        keys = [client.cache_key("decide", *decide_cache_parts(r)) for r in _page()]
        assert await cache.get_many(keys, 30) == {}
    assert all(isinstance(r, BackendMalformed) for r in results)


async def test_more_decisions_than_a_batch_takes_go_in_several(
    router: respx.MockRouter, cache: ResponseCache
) -> None:
    route = router.post("/v1/decide:batch").mock(side_effect=_Bandit())
    many = [
        _decide("discovery.banners", ["bn1", "bn2"], user=f"u{n:04d}")
        for n in range(MAX_BATCH_REQUESTS + 1)
    ]
    async with _client(router, cache, cache_ttl_s=30) as client:
        results = await client.decide_many(many, Deadline.after(1))
    assert route.call_count == 2
    assert sorted(len(_asked(route, n)) for n in range(2)) == [1, MAX_BATCH_REQUESTS]
    assert len(results) == len(many)
    assert len(set(_ids(results))) == len(many)  # every request its own decision


async def test_each_decision_is_observed_under_decide(
    router: respx.MockRouter, cache: ResponseCache
) -> None:
    router.post("/v1/decide:batch").mock(side_effect=_Bandit())
    observer = RecordingObserver()
    async with _client(router, cache, observer=observer) as client:
        await client.decide_many(_page(), Deadline.after(1))
    assert sorted(observer.calls) == [
        ("bandit", "decide", "ok", CacheResult.BYPASS, 1),
        ("bandit", "decide", "ok", CacheResult.BYPASS, 1),
        ("bandit", "decide:batch", "ok", CacheResult.BYPASS, 1),
    ]


async def test_nothing_to_decide_is_no_call(router: respx.MockRouter, cache: ResponseCache) -> None:
    route = router.post("/v1/decide:batch").mock(side_effect=_Bandit())
    async with _client(router, cache) as client:
        assert await client.decide_many([], Deadline.after(1)) == []
    assert route.call_count == 0
