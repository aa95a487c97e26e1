"""``RankingClient.rank_many``: one ``POST /v1/rank:batch`` for every request the cache lacks."""

from __future__ import annotations

import httpx
import pytest
import respx

from clients import (
    BackendMalformed,
    BackendRejected,
    BackendUnavailable,
    CacheResult,
    Deadline,
    Fetched,
    RankingClient,
    ResponseCache,
)
from clients.contracts import (
    EntityKind,
    RankBatchRequest,
    RankBatchResponse,
    RankRequest,
    RankResponse,
    ScoredId,
)
from clients.contracts.ranking import MAX_BATCH_REQUESTS
from clients.ranking import rank_cache_parts
from tests.clients.conftest import (
    FakeClock,
    RecordingObserver,
    backend_config,
    json_response,
    rank_request,
    transport,
)

KINDS = (EntityKind.VENUE, EntityKind.BRAND, EntityKind.CATEGORY)


def _scored(req: RankRequest) -> RankResponse:
    """Scores named after the kind, so an answer shows which request it belongs to."""
    return RankResponse(
        scores=[ScoredId(id=i, score=float(n)) for n, i in enumerate(req.candidate_ids)],
        model_version=f"m-{req.kind.value}",
    )


def _batch_answer(request: httpx.Request) -> httpx.Response:
    body = RankBatchRequest.model_validate_json(request.content)
    return json_response(RankBatchResponse(responses=[_scored(r) for r in body.requests]))


def _single_answer(request: httpx.Request) -> httpx.Response:
    return json_response(_scored(RankRequest.model_validate_json(request.content)))


def _page() -> list[RankRequest]:
    """One request per kind, as a discovery page ranks."""
    return [rank_request(kind=k, candidate_ids=[f"{k.value}-1", f"{k.value}-2"]) for k in KINDS]


def _client(
    router: respx.MockRouter,
    cache: ResponseCache,
    *,
    observer: RecordingObserver | None = None,
    **config: object,
) -> RankingClient:
    return RankingClient(
        "ranking",
        backend_config(**config),
        cache,
        transport=transport(router),
        observer=observer,
    )


def _asked(route: respx.Route, call: int = -1) -> list[RankRequest]:
    return RankBatchRequest.model_validate_json(route.calls[call].request.content).requests


async def test_one_call_then_every_request_from_the_cache(
    router: respx.MockRouter, cache: ResponseCache
) -> None:
    route = router.post("/v1/rank:batch").mock(side_effect=_batch_answer)
    async with _client(router, cache, cache_ttl_s=60) as client:
        first = await client.rank_many(_page(), Deadline.after(1))
        again = await client.rank_many(_page(), Deadline.after(1))
    assert route.call_count == 1
    assert _asked(route) == _page()
    for results, expected in ((first, CacheResult.MISS), (again, CacheResult.HIT)):
        assert [r.cache for r in results if isinstance(r, Fetched)] == [expected] * 3
    versions = [r.value.model_version for r in again if isinstance(r, Fetched)]
    assert versions == [f"m-{k.value}" for k in KINDS]  # in request order


async def test_single_and_batched_calls_share_cache_entries(
    router: respx.MockRouter, cache: ResponseCache
) -> None:
    single = router.post("/v1/rank").mock(side_effect=_single_answer)
    batch = router.post("/v1/rank:batch").mock(side_effect=_batch_answer)
    venues, brands, categories = _page()
    async with _client(router, cache, cache_ttl_s=60) as client:
        await client.rank(venues, Deadline.after(1))
        results = await client.rank_many([venues, brands], Deadline.after(1))
        assert [r.cache for r in results if isinstance(r, Fetched)] == [
            CacheResult.HIT,
            CacheResult.MISS,
        ]
        assert _asked(batch) == [brands]  # only what the cache lacked
        # the batch's answers serve single calls, whatever order the ids came in
        reordered = brands.model_copy(update={"candidate_ids": brands.candidate_ids[::-1]})
        assert (await client.rank(reordered, Deadline.after(1))).cache is CacheResult.HIT
        await client.rank_many([categories], Deadline.after(1))
        assert (await client.rank(categories, Deadline.after(1))).cache is CacheResult.HIT
    assert (single.call_count, batch.call_count) == (1, 2)


async def test_a_failure_is_stale_where_an_entry_is_kept_and_an_error_elsewhere(
    router: respx.MockRouter, cache: ResponseCache, epoch: FakeClock
) -> None:
    route = router.post("/v1/rank:batch").mock(side_effect=_batch_answer)
    async with _client(router, cache, cache_ttl_s=60) as client:
        await client.rank_many(_page()[:1], Deadline.after(1))
        epoch.advance(120)  # past the TTL, within the stale window
        route.mock(return_value=httpx.Response(500))
        results = await client.rank_many(_page(), Deadline.after(1))
    assert len(_asked(route)) == 3  # the stale entry is asked for again
    assert isinstance(results[0], Fetched)
    assert results[0].cache is CacheResult.STALE
    assert results[0].value.model_version == "m-venue"
    assert all(isinstance(r, BackendUnavailable) for r in results[1:])


async def test_a_rejection_is_never_served_stale(
    router: respx.MockRouter, cache: ResponseCache, epoch: FakeClock
) -> None:
    route = router.post("/v1/rank:batch").mock(side_effect=_batch_answer)
    async with _client(router, cache, cache_ttl_s=60) as client:
        await client.rank_many(_page(), Deadline.after(1))
        epoch.advance(120)
        route.mock(return_value=httpx.Response(400, json={"detail": "requests[1]: no variant"}))
        results = await client.rank_many(_page(), Deadline.after(1))
    assert all(isinstance(r, BackendRejected) and r.status == 400 for r in results)


async def test_a_wrong_number_of_answers_is_malformed(
    router: respx.MockRouter, cache: ResponseCache
) -> None:
    one = RankBatchResponse(responses=[_scored(_page()[0])])
    router.post("/v1/rank:batch").mock(return_value=json_response(one))
    observer = RecordingObserver()
    async with _client(router, cache, cache_ttl_s=60, observer=observer) as client:
        results = await client.rank_many(_page(), Deadline.after(1))
        assert all(isinstance(r, BackendMalformed) for r in results)
        assert "1 answers to 3 requests" in str(results[0])
        keys = [client.cache_key("rank", *rank_cache_parts(r)) for r in _page()]
        assert await cache.get_many(keys, 60) == {}  # nothing of the bad answer was cached
    per_request = [c for c in observer.calls if c[1] == "rank"]
    assert [c[2] for c in per_request] == ["malformed"] * 3


async def test_more_requests_than_a_batch_takes_go_in_several(
    router: respx.MockRouter, cache: ResponseCache
) -> None:
    route = router.post("/v1/rank:batch").mock(side_effect=_batch_answer)
    many = [rank_request(candidate_ids=[f"v{n}"]) for n in range(MAX_BATCH_REQUESTS + 3)]
    async with _client(router, cache) as client:
        results = await client.rank_many(many, Deadline.after(1))
    assert route.call_count == 2
    assert sorted(len(_asked(route, n)) for n in range(2)) == [3, MAX_BATCH_REQUESTS]
    assert [r.value.scores[0].id for r in results if isinstance(r, Fetched)] == [
        f"v{n}" for n in range(MAX_BATCH_REQUESTS + 3)
    ]


async def test_without_a_ttl_every_request_is_asked_and_nothing_cached(
    router: respx.MockRouter, cache: ResponseCache
) -> None:
    route = router.post("/v1/rank:batch").mock(side_effect=_batch_answer)
    async with _client(router, cache) as client:
        for _ in range(2):
            results = await client.rank_many(_page(), Deadline.after(1))
            assert [r.cache for r in results if isinstance(r, Fetched)] == [CacheResult.BYPASS] * 3
    assert route.call_count == 2


async def test_nothing_to_rank_is_no_call(router: respx.MockRouter, cache: ResponseCache) -> None:
    route = router.post("/v1/rank:batch").mock(side_effect=_batch_answer)
    async with _client(router, cache, cache_ttl_s=60) as client:
        assert await client.rank_many([], Deadline.after(1)) == []
    assert route.call_count == 0


async def test_a_batch_is_retried_like_a_single_rank(
    router: respx.MockRouter, cache: ResponseCache
) -> None:
    answer = RankBatchResponse(responses=[_scored(r) for r in _page()])
    route = router.post("/v1/rank:batch").mock(
        side_effect=[httpx.Response(503), json_response(answer)]
    )
    async with _client(router, cache) as client:
        results = await client.rank_many(_page(), Deadline.after(1))
    assert route.call_count == 2
    assert [r.attempts for r in results if isinstance(r, Fetched)] == [2] * 3


async def test_each_request_and_the_batch_call_are_observed(
    router: respx.MockRouter, cache: ResponseCache
) -> None:
    router.post("/v1/rank:batch").mock(side_effect=_batch_answer)
    observer = RecordingObserver()
    async with _client(router, cache, cache_ttl_s=60, observer=observer) as client:
        await client.rank_many(_page()[:1], Deadline.after(1))
        observer.calls.clear()
        await client.rank_many(_page(), Deadline.after(1), headers={"traceparent": "00-x"})
    assert sorted(observer.calls) == sorted(
        [
            ("ranking", "rank", "ok", CacheResult.HIT, 0),
            ("ranking", "rank:batch", "ok", CacheResult.BYPASS, 1),
            ("ranking", "rank", "ok", CacheResult.MISS, 1),
            ("ranking", "rank", "ok", CacheResult.MISS, 1),
        ]
    )


async def test_headers_reach_the_backend(router: respx.MockRouter, cache: ResponseCache) -> None:
    route = router.post("/v1/rank:batch").mock(side_effect=_batch_answer)
    async with _client(router, cache) as client:
        # (not traceparent: with a tracer provider installed by an earlier test in this
        # process, the client's own span context replaces it, as it should)
        await client.rank_many(_page(), Deadline.after(1), headers={"x-request-id": "r-1"})
    assert route.calls.last.request.headers["x-request-id"] == "r-1"


async def test_a_closed_client_refuses(router: respx.MockRouter, cache: ResponseCache) -> None:
    client = _client(router, cache)
    await client.aclose()
    with pytest.raises(RuntimeError):
        await client.rank_many(_page(), Deadline.after(1))
