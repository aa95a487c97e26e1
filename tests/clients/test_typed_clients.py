"""What each typed client declares: endpoints, cache keys, idempotency."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from clients import (
    BackendRejected,
    BackendUnavailable,
    BanditClient,
    CacheResult,
    Deadline,
    PopularityClient,
    RankingClient,
    ResponseCache,
)
from clients.contracts import (
    Arm,
    DecideRequest,
    DecideResponse,
    EntityKind,
    Location,
    PopularResponse,
    RankResponse,
    RequestContext,
    RetrievalStrategy,
    RewardRequest,
    ScoredId,
)
from clients.contracts.retrieval import (
    MAX_BATCH_REQUESTS,
    CandidatesBatchRequest,
    CandidatesBatchResponse,
    CandidatesRequest,
)
from clients.errors import BackendMalformed
from clients.results import Fetched
from clients.retrieval import RetrievalClient, candidates_cache_parts
from tests.clients.conftest import (
    FakeClock,
    backend_config,
    candidates_request,
    candidates_response,
    json_response,
    rank_request,
    transport,
)

RANKED = RankResponse(
    scores=[ScoredId(id="v1", score=0.9), ScoredId(id="v2", score=0.5)], model_version="m1"
)


class TestRanking:
    async def test_cache_key_ignores_candidate_order_and_minutes(
        self, router: respx.MockRouter, cache: ResponseCache
    ) -> None:
        route = router.post("/v1/rank").mock(return_value=json_response(RANKED))
        config = backend_config(cache_ttl_s=60)
        async with RankingClient("ranking", config, cache, transport=transport(router)) as client:
            first = await client.rank(rank_request(), Deadline.after(1))
            reordered = rank_request(candidate_ids=["v3", "v1", "v2"])
            same_hour = rank_request(
                context=RequestContext(
                    location=Location(lat=60.2, lon=24.9),
                    local_time="2026-01-05T12:59:00+02:00",
                    city="helsinki",
                )
            )
            assert (await client.rank(reordered, Deadline.after(1))).cache is CacheResult.HIT
            assert (await client.rank(same_hour, Deadline.after(1))).cache is CacheResult.HIT
        assert first.value == RANKED
        assert route.call_count == 1

    @pytest.mark.parametrize(
        "change",
        [
            {"variant": "b"},
            {"kind": EntityKind.ITEM},
            {"user_id": "u0002"},
            {"candidate_ids": ["v1", "v2"]},
            {
                "context": RequestContext(
                    location=Location(lat=60.17, lon=24.94),
                    local_time="2026-01-05T13:00:00+02:00",
                    city="helsinki",
                )
            },
        ],
        ids=["variant", "kind", "user", "candidates", "hour"],
    )
    async def test_cache_key_includes(
        self, router: respx.MockRouter, cache: ResponseCache, change: dict[str, object]
    ) -> None:
        route = router.post("/v1/rank").mock(return_value=json_response(RANKED))
        config = backend_config(cache_ttl_s=60)
        async with RankingClient("ranking", config, cache, transport=transport(router)) as client:
            await client.rank(rank_request(), Deadline.after(1))
            assert (await client.rank(rank_request(**change), Deadline.after(1))).cache is (
                CacheResult.MISS
            )
        assert route.call_count == 2

    async def test_unknown_variant_is_rejected(
        self, router: respx.MockRouter, cache: ResponseCache
    ) -> None:
        router.post("/v1/rank").mock(return_value=httpx.Response(400))
        async with RankingClient(
            "ranking", backend_config(), cache, transport=transport(router)
        ) as client:
            with pytest.raises(BackendRejected):
                await client.rank(rank_request(variant="nope"), Deadline.after(1))


def decide_request() -> DecideRequest:
    return DecideRequest(
        decision_point="discovery.section_order",
        arms=["a", "b"],
        context=RequestContext(
            location=Location(lat=60.17, lon=24.94), local_time="2026-01-05T12:00:00+02:00"
        ),
    )


class TestBandit:
    async def test_a_decision_is_reused_within_its_ttl_for_the_same_viewer_and_hour(
        self, router: respx.MockRouter, cache: ResponseCache
    ) -> None:
        decided = DecideResponse(
            decision_id="d1",
            ranking=[Arm(arm="b", propensity=0.7), Arm(arm="a", propensity=0.3)],
            policy_version="p1",
        )
        route = router.post("/v1/decide").mock(return_value=json_response(decided))
        config = backend_config(cache_ttl_s=30)
        async with BanditClient("bandit", config, cache, transport=transport(router)) as client:
            first = await client.decide(decide_request(), Deadline.after(1))
            again = await client.decide(decide_request(), Deadline.after(1))
        assert (first.cache, again.cache) == (CacheResult.MISS, CacheResult.HIT)
        assert again.value == decided  # the same decision_id: rewards still refer to it
        assert route.call_count == 1

    async def test_another_viewer_hour_or_arm_set_is_a_new_decision(
        self, router: respx.MockRouter, cache: ResponseCache
    ) -> None:
        decided = DecideResponse(
            decision_id="d1", ranking=[Arm(arm="a", propensity=1.0)], policy_version="p1"
        )
        route = router.post("/v1/decide").mock(return_value=json_response(decided))
        base = decide_request()
        later = base.context.model_copy(update={"local_time": "2026-01-05T13:00:00+02:00"})
        variants = [
            base,
            base.model_copy(update={"user_id": "u0002"}),
            base.model_copy(update={"context": later}),
            base.model_copy(update={"arms": ["a", "b", "c"]}),
        ]
        config = backend_config(cache_ttl_s=30)
        async with BanditClient("bandit", config, cache, transport=transport(router)) as client:
            for req in variants:
                await client.decide(req, Deadline.after(1))
            # a minute later within the same hour, elsewhere in the city: the same decision
            same_hour = base.context.model_copy(
                update={
                    "local_time": "2026-01-05T12:59:00+02:00",
                    "location": Location(lat=60.171, lon=24.941),
                }
            )
            await client.decide(base.model_copy(update={"context": same_hour}), Deadline.after(1))
        assert route.call_count == len(variants)

    async def test_decisions_are_fresh_draws_without_a_ttl(
        self, router: respx.MockRouter, cache: ResponseCache
    ) -> None:
        decided = DecideResponse(
            decision_id="d1", ranking=[Arm(arm="a", propensity=1.0)], policy_version="p1"
        )
        route = router.post("/v1/decide").mock(return_value=json_response(decided))
        async with BanditClient(
            "bandit", backend_config(), cache, transport=transport(router)
        ) as client:
            for _ in range(2):
                fetched = await client.decide(decide_request(), Deadline.after(1))
                assert fetched.cache is CacheResult.BYPASS
        assert route.call_count == 2

    async def test_reward_expects_202_and_is_not_retried(
        self, router: respx.MockRouter, cache: ResponseCache
    ) -> None:
        route = router.post("/v1/rewards").mock(
            side_effect=[httpx.Response(202), httpx.Response(503)]
        )
        reward = RewardRequest(decision_id="d1", arm="a", reward=1.0)
        async with BanditClient(
            "bandit", backend_config(), cache, transport=transport(router)
        ) as client:
            assert await client.reward(reward, Deadline.after(1)) is None
            with pytest.raises(BackendUnavailable):
                await client.reward(reward, Deadline.after(1))
        assert route.call_count == 2
        assert RewardRequest.model_validate(json.loads(route.calls[0].request.content)) == reward


class TestPopularity:
    async def test_query_parameters_and_caching(
        self, router: respx.MockRouter, cache: ResponseCache
    ) -> None:
        popular = PopularResponse(ids=["v1", "v2"], generated_at="2026-01-05T00:00:00Z")
        route = router.get(
            "/v1/popular",
            params={"scope": "category", "key": "helsinki:pizza", "kind": "venue", "limit": "20"},
        ).mock(return_value=json_response(popular))
        config = backend_config(cache_ttl_s=60)
        async with PopularityClient(
            "popularity", config, cache, transport=transport(router)
        ) as client:
            first = await client.popular(
                "category", "helsinki:pizza", "venue", 20, Deadline.after(1)
            )
            second = await client.popular(
                "category", "helsinki:pizza", EntityKind.VENUE, 20, Deadline.after(1)
            )
        assert first.value == popular
        assert second.cache is CacheResult.HIT
        assert route.call_count == 1


class TestRetrievalCacheKey:
    """A viewer coming back a minute later or a few steps away shares cached candidates."""

    def test_the_same_five_minutes_and_hundred_metres_share_a_key(self) -> None:
        base = candidates_request(local_time="2026-01-05T12:05:10+02:00")
        near = candidates_request(
            local_time="2026-01-05T12:09:59+02:00", location=Location(lat=60.1702, lon=24.9401)
        )
        assert candidates_cache_parts(base) == candidates_cache_parts(near)

    @pytest.mark.parametrize(
        "change",
        [
            {"local_time": "2026-01-05T12:10:00+02:00"},
            {"location": Location(lat=60.172, lon=24.94)},
            {"user_id": "u0002"},
            {"strategy": RetrievalStrategy.NEW},
            {"category": "pizza"},
            {"cart_item_ids": ["i1"]},
            {"limit": 20},
        ],
    )
    def test_anything_else_is_another_key(self, change: dict[str, object]) -> None:
        base = {"local_time": "2026-01-05T12:05:10+02:00"}
        assert candidates_cache_parts(candidates_request(**base)) != candidates_cache_parts(
            candidates_request(**{**base, **change})
        )

    def test_cart_order_does_not_matter(self) -> None:
        one = candidates_request(cart_item_ids=["i1", "i2"])
        other = candidates_request(cart_item_ids=["i2", "i1"])
        assert candidates_cache_parts(one) == candidates_cache_parts(other)


def _batch_answer(request: httpx.Request) -> httpx.Response:
    """A batch endpoint answering each strategy with one candidate named after it."""
    body = CandidatesBatchRequest.model_validate_json(request.content)
    responses = [candidates_response(f"v-{r.strategy.value}") for r in body.requests]
    return json_response(CandidatesBatchResponse(responses=responses))


class TestRetrievalBatch:
    """``candidates_many``: one round trip for every strategy the cache does not hold."""

    STRATEGIES = (RetrievalStrategy.FOR_YOU, RetrievalStrategy.NEW, RetrievalStrategy.NEARBY)

    def _requests(self) -> list[CandidatesRequest]:
        return [candidates_request(strategy=s) for s in self.STRATEGIES]

    async def test_one_call_then_every_strategy_from_the_cache(
        self, router: respx.MockRouter, cache: ResponseCache
    ) -> None:
        route = router.post("/v1/candidates:batch").mock(side_effect=_batch_answer)
        config = backend_config(cache_ttl_s=60)
        async with RetrievalClient("retrieval", config, cache, transport=transport(router)) as c:
            first = await c.candidates_many(self._requests(), Deadline.after(1))
            again = await c.candidates_many(self._requests(), Deadline.after(1))
        assert route.call_count == 1
        for results, expected in ((first, CacheResult.MISS), (again, CacheResult.HIT)):
            assert [r.cache for r in results if isinstance(r, Fetched)] == [expected] * 3
        ids = [r.value.candidates[0].id for r in again if isinstance(r, Fetched)]
        assert ids == [f"v-{s.value}" for s in self.STRATEGIES]  # in request order

    async def test_only_the_strategies_not_cached_are_asked_for(
        self, router: respx.MockRouter, cache: ResponseCache
    ) -> None:
        route = router.post("/v1/candidates:batch").mock(side_effect=_batch_answer)
        config = backend_config(cache_ttl_s=60)
        async with RetrievalClient("retrieval", config, cache, transport=transport(router)) as c:
            await c.candidates_many(self._requests()[:1], Deadline.after(1))
            await c.candidates_many(self._requests(), Deadline.after(1))
        asked = CandidatesBatchRequest.model_validate_json(route.calls.last.request.content)
        assert [r.strategy for r in asked.requests] == list(self.STRATEGIES[1:])

    async def test_a_failure_is_stale_where_an_entry_is_kept_and_an_error_elsewhere(
        self, router: respx.MockRouter, cache: ResponseCache, epoch: FakeClock
    ) -> None:
        route = router.post("/v1/candidates:batch").mock(side_effect=_batch_answer)
        config = backend_config(cache_ttl_s=60)
        async with RetrievalClient("retrieval", config, cache, transport=transport(router)) as c:
            await c.candidates_many(self._requests()[:1], Deadline.after(1))
            epoch.advance(120)  # past the TTL, within the stale window
            route.mock(return_value=httpx.Response(500))
            results = await c.candidates_many(self._requests(), Deadline.after(1))
        assert isinstance(results[0], Fetched)
        assert results[0].cache is CacheResult.STALE
        assert all(isinstance(r, BackendUnavailable) for r in results[1:])

    async def test_a_wrong_number_of_answers_is_malformed(
        self, router: respx.MockRouter, cache: ResponseCache
    ) -> None:
        one = CandidatesBatchResponse(responses=[candidates_response("v1")])
        router.post("/v1/candidates:batch").mock(return_value=json_response(one))
        async with RetrievalClient(
            "retrieval", backend_config(), cache, transport=transport(router)
        ) as c:
            results = await c.candidates_many(self._requests(), Deadline.after(1))
        assert all(isinstance(r, BackendMalformed) for r in results)

    async def test_more_strategies_than_a_batch_takes_go_in_several(
        self, router: respx.MockRouter, cache: ResponseCache
    ) -> None:
        route = router.post("/v1/candidates:batch").mock(side_effect=_batch_answer)
        many = [candidates_request(limit=n) for n in range(1, MAX_BATCH_REQUESTS + 3)]
        async with RetrievalClient(
            "retrieval", backend_config(), cache, transport=transport(router)
        ) as c:
            results = await c.candidates_many(many, Deadline.after(1))
        assert route.call_count == 2
        assert len(results) == len(many)
        assert all(isinstance(r, Fetched) for r in results)
