"""Every interaction the gateway relies on with its five backends, as Pact V4 interactions.

Each :class:`Spec` is one request the gateway's real clients send (built from the contract
models exactly as the engine builds it), the answer it expects (with Pact matchers, so any
correct backend passes, not only the reference one) and a ``drive`` coroutine that makes the
gateway's typed client talk to the Pact mock server and asserts how the client understood
the answer. ``test_consumer_pacts.py`` runs each against the mock server and writes the
pact files in ``pacts/``; provider verification replays them against real backends.

Ids name the seeded reference dataset (seed 42); a deployed backend sets them up through
its provider-state handler.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from pact import match
from pydantic import BaseModel

from clients import (
    BackendConfig,
    BackendRejected,
    BanditClient,
    CacheConfig,
    CatalogClient,
    Deadline,
    Fetched,
    PopularityClient,
    RankingClient,
    ResponseCache,
    RetrievalClient,
)
from clients.contracts import (
    CandidatesBatchRequest,
    CandidatesBatchResponse,
    CandidatesRequest,
    DecideBatchRequest,
    DecideRequest,
    EntityKind,
    Location,
    PopularityScope,
    RankBatchRequest,
    RankRequest,
    RequestContext,
    RetrievalStrategy,
    Surface,
)

HELSINKI = Location(lat=60.1699, lon=24.9384)
NOWHERE = Location(lat=0.0, lon=0.0)
LOCAL_TIME = "2026-01-05T12:30:00+02:00"  # a Monday lunch time in Helsinki
CONTEXT = RequestContext(location=HELSINKI, local_time=LOCAL_TIME, city="helsinki")
USER = "u0042"  # has an order history
NEW_USER = "u4950"  # u4901 … u5000 have none
VENUE = "v00144"  # a Helsinki venue with a menu
VENUE_2 = "v00106"
ITEMS = ["i003580", "i003578"]  # on VENUE's menu
BRANDS = ["b037", "b011"]
SECTIONS = [
    "banners",
    "categories",
    "for_you",
    "order_again",
    "popular_near_you",
    "new_on_the_app",
    "brands",
]

Driver = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class Spec:
    """One interaction: request, provider states, expected answer, and the client driving it."""

    provider: str
    description: str
    method: str
    path: str
    status: int
    drive: Driver
    states: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    body: BaseModel | None = None
    query: dict[str, str] | None = None
    response: Any = None

    @property
    def request_body(self) -> Any:
        """The body exactly as the gateway's client serialises it."""
        return None if self.body is None else json.loads(self.body.model_dump_json())

    @property
    def id(self) -> str:
        return f"{self.provider}: {self.description}"


def _client(kind: type[Any], name: str, url: str) -> Any:
    config = BackendConfig(base_url=url, timeout_s=5.0, connect_timeout_s=5.0)
    return kind(name, config, ResponseCache(CacheConfig(namespace=f"pact-{name}")))


def _deadline() -> Deadline:
    return Deadline.after(10.0)


# -- retrieval ---------------------------------------------------------------------------------

CANDIDATE = {"id": match.str("v00100"), "score": match.number(0.9)}


def _candidates_spec(
    description: str,
    req: CandidatesRequest,
    states: list[tuple[str, dict[str, Any]]],
    *,
    empty: bool = False,
    example_id: str = "v00100",
    with_reason: bool = False,
) -> Spec:
    candidate: dict[str, Any] = {"id": match.str(example_id), "score": match.number(0.9)}
    if with_reason:
        candidate["reason"] = match.str("Because you like Pizza")

    async def drive(url: str) -> None:
        client = _client(RetrievalClient, "retrieval", url)
        try:
            got = (await client.candidates(req, _deadline())).value
        finally:
            await client.aclose()
        if empty:
            assert got.candidates == []
        else:
            assert 1 <= len(got.candidates) <= req.limit
            assert got.candidates[0].id == example_id

    response = {
        "candidates": [] if empty else match.each_like(candidate, min=1, max=req.limit),
        "source_version": match.str("retrieval-v1"),
    }
    return Spec(
        "retrieval",
        description,
        "POST",
        "/v1/candidates",
        200,
        drive,
        states,
        req,
        response=response,
    )


def _candidates_batch_spec(
    description: str,
    batch: CandidatesBatchRequest,
    states: list[tuple[str, dict[str, Any]]],
    example_ids: list[str],
) -> Spec:
    """Several strategies in one ``POST /v1/candidates:batch``: one response per request,
    in request order (the pact's response list has exactly one entry per request)."""

    async def drive(url: str) -> None:
        client = _client(RetrievalClient, "retrieval", url)
        try:
            # The request exactly as the typed client sends a batch (its call(), the body
            # serialised from the model); the client's batching and caching around it are
            # tested in tests/clients.
            got = (
                await client.call(
                    "candidates:batch",
                    "POST",
                    "/v1/candidates:batch",
                    CandidatesBatchResponse,
                    _deadline(),
                    json=batch,
                )
            ).value
        finally:
            await client.aclose()
        assert len(got.responses) == len(batch.requests)
        for req, resp, example_id in zip(batch.requests, got.responses, example_ids, strict=True):
            assert 1 <= len(resp.candidates) <= req.limit
            assert resp.candidates[0].id == example_id

    responses = [
        {
            "candidates": match.each_like(
                {"id": match.str(example_id), "score": match.number(0.9)}, min=1, max=req.limit
            ),
            "source_version": match.str("retrieval-v1"),
        }
        for req, example_id in zip(batch.requests, example_ids, strict=True)
    ]
    return Spec(
        "retrieval",
        description,
        "POST",
        "/v1/candidates:batch",
        200,
        drive,
        states,
        batch,
        response={"responses": responses},
    )


def _retrieval() -> list[Spec]:
    def req(strategy: RetrievalStrategy, **kw: Any) -> CandidatesRequest:
        values: dict[str, Any] = {
            "surface": Surface.DISCOVERY,
            "strategy": strategy,
            "user_id": USER,
            "location": HELSINKI,
            "local_time": LOCAL_TIME,
            "limit": 60,
            **kw,
        }
        return CandidatesRequest(**values)

    has_history = ("a user with an order history", {"user_id": USER, "city": "helsinki"})
    venues_near = ("venues deliver to the location", {"lat": HELSINKI.lat, "lon": HELSINKI.lon})
    return [
        _candidates_spec(
            "for_you candidates for a user with an order history",
            req(RetrievalStrategy.FOR_YOU),
            [has_history, venues_near],
            with_reason=True,
        ),
        _candidates_spec(
            "for_you candidates for an anonymous viewer",
            req(RetrievalStrategy.FOR_YOU, user_id=None),
            [venues_near],
        ),
        _candidates_spec(
            "order_again for a user with no order history is an empty list",
            req(RetrievalStrategy.ORDER_AGAIN, user_id=NEW_USER),
            [("a user with no order history", {"user_id": NEW_USER}), venues_near],
            empty=True,
        ),
        _candidates_spec(
            "for_you where no venue delivers is an empty list",
            req(RetrievalStrategy.FOR_YOU, location=NOWHERE),
            [("no venue delivers to the location", {"lat": 0.0, "lon": 0.0})],
            empty=True,
        ),
        _candidates_spec(
            "new venues near the viewer",
            req(RetrievalStrategy.NEW),
            [venues_near],
        ),
        _candidates_spec(
            "brands for the discovery feed",
            req(RetrievalStrategy.BRANDS, limit=36),
            [venues_near],
            example_id="b037",
        ),
        _candidates_spec(
            "categories for the discovery feed",
            req(RetrievalStrategy.CATEGORIES, limit=36),
            [venues_near],
            example_id="pizza",
        ),
        _candidates_spec(
            "venues of a category, at most the limit",
            req(
                RetrievalStrategy.CATEGORY,
                surface=Surface.CATEGORY,
                category="pizza",
                limit=5,
            ),
            [("venues of the category deliver to the location", {"category": "pizza"})],
        ),
        _candidates_spec(
            "items of a venue for the venue page",
            req(
                RetrievalStrategy.VENUE_ITEMS,
                surface=Surface.VENUE_PAGE,
                venue_id=VENUE,
                limit=36,
            ),
            [("a venue with a menu", {"venue_id": VENUE})],
            example_id=ITEMS[0],
        ),
        _candidates_spec(
            "items often bought with the cart",
            req(
                RetrievalStrategy.CO_PURCHASE,
                surface=Surface.CART,
                venue_id=VENUE,
                cart_item_ids=[ITEMS[0]],
                limit=30,
            ),
            [("a venue with a menu", {"venue_id": VENUE})],
            example_id="i003593",
            with_reason=True,
        ),
        _candidates_batch_spec(
            "venues and brands in one batch, answered in request order",
            CandidatesBatchRequest(
                requests=[
                    req(RetrievalStrategy.FOR_YOU),
                    req(RetrievalStrategy.BRANDS, limit=36),
                ]
            ),
            [has_history, venues_near],
            ["v00100", "b037"],
        ),
        _candidates_batch_spec(
            "brands, categories and new venues in one batch for an anonymous viewer",
            CandidatesBatchRequest(
                requests=[
                    req(RetrievalStrategy.BRANDS, user_id=None, limit=36),
                    req(RetrievalStrategy.CATEGORIES, user_id=None, limit=36),
                    req(RetrievalStrategy.NEW, user_id=None),
                ]
            ),
            [venues_near],
            ["b037", "pizza", "v00100"],
        ),
    ]


# -- ranking -----------------------------------------------------------------------------------


def _rank_spec(
    description: str,
    req: RankRequest,
    states: list[tuple[str, dict[str, Any]]],
) -> Spec:
    async def drive(url: str) -> None:
        client = _client(RankingClient, "ranking", url)
        try:
            got = (await client.rank(req, _deadline())).value
        finally:
            await client.aclose()
        assert {s.id for s in got.scores} == set(req.candidate_ids)

    return Spec(
        "ranking",
        description,
        "POST",
        "/v1/rank",
        200,
        drive,
        states,
        req,
        response={
            "scores": _scores_matcher(req),
            "model_version": match.str("venue-gbdt-control"),
        },
    )


def _scores_matcher(req: RankRequest) -> Any:
    return (
        []
        if not req.candidate_ids
        else match.array_containing(
            [{"id": i, "score": match.number(0.5)} for i in req.candidate_ids]
        )
    )


def _rank_batch_spec(
    description: str,
    batch: RankBatchRequest,
    states: list[tuple[str, dict[str, Any]]],
) -> Spec:
    """Several kinds ranked in one ``POST /v1/rank:batch``, driven through
    ``RankingClient.rank_many``: one response per request, in request order (the pact's
    response list has exactly one entry per request)."""

    async def drive(url: str) -> None:
        client = _client(RankingClient, "ranking", url)
        try:
            results = await client.rank_many(batch.requests, _deadline())
        finally:
            await client.aclose()
        assert len(results) == len(batch.requests)
        for req, result in zip(batch.requests, results, strict=True):
            assert isinstance(result, Fetched), result
            assert {s.id for s in result.value.scores} == set(req.candidate_ids)

    responses = [
        {"scores": _scores_matcher(req), "model_version": match.str("venue-gbdt-control")}
        for req in batch.requests
    ]
    return Spec(
        "ranking",
        description,
        "POST",
        "/v1/rank:batch",
        200,
        drive,
        states,
        batch,
        response={"responses": responses},
    )


def _ranking() -> list[Spec]:
    def req(**kw: Any) -> RankRequest:
        values: dict[str, Any] = {
            "surface": Surface.DISCOVERY,
            "kind": EntityKind.VENUE,
            "user_id": USER,
            "context": CONTEXT,
            "candidate_ids": sorted([VENUE, VENUE_2, "v00043"]),
            **kw,
        }
        return RankRequest(**values)

    control = ("the ranking model is loaded", {"variant": "control"})
    treatment = ("the ranking model is loaded", {"variant": "treatment"})

    async def unknown_variant(url: str) -> None:
        client = _client(RankingClient, "ranking", url)
        try:
            with pytest.raises(BackendRejected) as caught:
                await client.rank(req(variant="no-such-variant"), _deadline())
        finally:
            await client.aclose()
        assert caught.value.status == 400

    rejected_batch = RankBatchRequest(
        requests=[
            req(kind=EntityKind.BRAND, candidate_ids=sorted(BRANDS)),
            req(variant="no-such-variant"),
        ]
    )

    async def unknown_variant_in_a_batch(url: str) -> None:
        client = _client(RankingClient, "ranking", url)
        try:
            results = await client.rank_many(rejected_batch.requests, _deadline())
        finally:
            await client.aclose()
        assert len(results) == 2
        for result in results:  # the whole batch is refused, as the backend said
            assert isinstance(result, BackendRejected), result
            assert result.status == 400

    return [
        _rank_spec("a score for every venue candidate of a known user", req(), [control]),
        _rank_spec(
            "a score for every venue candidate of an anonymous viewer",
            req(user_id=None),
            [control],
        ),
        _rank_spec(
            "a score even for ids the model has never seen",
            req(candidate_ids=[VENUE, "v-never-seen"]),
            [control, ("the id is unknown to the model", {"id": "v-never-seen"})],
        ),
        _rank_spec(
            "an empty candidate list gets an empty score list",
            req(candidate_ids=[]),
            [control],
        ),
        _rank_spec(
            "items of a venue with the treatment model",
            req(
                surface=Surface.VENUE_PAGE,
                kind=EntityKind.ITEM,
                candidate_ids=sorted(ITEMS),
                variant="treatment",
            ),
            [treatment],
        ),
        _rank_spec(
            "brands and categories are ranked too",
            req(kind=EntityKind.BRAND, candidate_ids=sorted(BRANDS)),
            [control],
        ),
        Spec(
            "ranking",
            "an unknown variant is rejected with 400 and a message",
            "POST",
            "/v1/rank",
            400,
            unknown_variant,
            [("the variant does not exist", {"variant": "no-such-variant"})],
            req(variant="no-such-variant"),
        ),
        _rank_batch_spec(
            "venues, brands and categories of a known user in one batch, in request order",
            RankBatchRequest(
                requests=[
                    req(),
                    req(kind=EntityKind.BRAND, candidate_ids=sorted(BRANDS)),
                    req(kind=EntityKind.CATEGORY, candidate_ids=["burgers", "pizza", "sushi"]),
                ]
            ),
            [control],
        ),
        _rank_batch_spec(
            "an anonymous viewer's venues, items with the treatment model and an empty list "
            "in one batch",
            RankBatchRequest(
                requests=[
                    req(user_id=None),
                    req(
                        user_id=None,
                        surface=Surface.VENUE_PAGE,
                        kind=EntityKind.ITEM,
                        candidate_ids=sorted(ITEMS),
                        variant="treatment",
                    ),
                    req(user_id=None, candidate_ids=[]),
                ]
            ),
            [control, treatment],
        ),
        Spec(
            "ranking",
            "an unknown variant in a batch rejects the whole batch with 400 and a message",
            "POST",
            "/v1/rank:batch",
            400,
            unknown_variant_in_a_batch,
            [control, ("the variant does not exist", {"variant": "no-such-variant"})],
            rejected_batch,
        ),
    ]


# -- bandit -----------------------------------------------------------------------------------


def _decide_spec(description: str, req: DecideRequest) -> Spec:
    async def drive(url: str) -> None:
        client = _client(BanditClient, "bandit", url)
        try:
            got = (await client.decide(req, _deadline())).value
        finally:
            await client.aclose()
        assert sorted(a.arm for a in got.ranking) == sorted(req.arms)
        assert all(0 < a.propensity <= 1 for a in got.ranking)

    ranking = _ranking_matcher(req.arms)
    return Spec(
        "bandit",
        description,
        "POST",
        "/v1/decide",
        200,
        drive,
        [("the bandit policy is running", {"decision_point": req.decision_point})],
        req,
        response={
            "decision_id": match.str("d-0123456789abcdef"),
            "ranking": ranking,
            "policy_version": match.str("ts-hier-beta-v1"),
        },
    )


def _ranking_matcher(arms: list[str]) -> Any:
    n = len(arms)
    return match.array_containing(
        [{"arm": arm, "propensity": match.number(round(1 / n, 4))} for arm in arms]
    )


def _decide_batch_spec(description: str, batch: DecideBatchRequest) -> Spec:
    """Several decisions in one ``POST /v1/decide:batch``, driven through
    ``BanditClient.decide_many``: one decision per request, in request order, each with its
    own decision id."""

    async def drive(url: str) -> None:
        client = _client(BanditClient, "bandit", url)
        try:
            results = await client.decide_many(batch.requests, _deadline())
        finally:
            await client.aclose()
        assert len(results) == len(batch.requests)
        ids = set()
        for req, result in zip(batch.requests, results, strict=True):
            assert isinstance(result, Fetched), result
            assert sorted(a.arm for a in result.value.ranking) == sorted(req.arms)
            assert all(0 < a.propensity <= 1 for a in result.value.ranking)
            ids.add(result.value.decision_id)
        assert len(ids) == len(batch.requests)

    responses = [
        {
            "decision_id": match.str(f"d-0123456789abcde{n}"),
            "ranking": _ranking_matcher(req.arms),
            "policy_version": match.str("ts-hier-beta-v1"),
        }
        for n, req in enumerate(batch.requests)
    ]
    points = dict.fromkeys(req.decision_point for req in batch.requests)
    return Spec(
        "bandit",
        description,
        "POST",
        "/v1/decide:batch",
        200,
        drive,
        [("the bandit policy is running", {"decision_point": p}) for p in points],
        batch,
        response={"responses": responses},
    )


def _bandit() -> list[Spec]:
    return [
        _decide_spec(
            "the order of the discovery sections for a known user",
            DecideRequest(
                decision_point="discovery.section_order",
                arms=SECTIONS,
                user_id=USER,
                context=CONTEXT,
            ),
        ),
        _decide_spec(
            "banners for an anonymous viewer",
            DecideRequest(
                decision_point="discovery.banners",
                arms=["bn-hel-1", "bn-hel-2", "bn-hel-3"],
                context=CONTEXT,
            ),
        ),
        _decide_spec(
            "a single arm is ranked with propensity in (0, 1]",
            DecideRequest(decision_point="discovery.banners", arms=["bn-hel-1"], context=CONTEXT),
        ),
        _decide_batch_spec(
            "the section order and banners of a known user in one batch, in request order",
            DecideBatchRequest(
                requests=[
                    DecideRequest(
                        decision_point="discovery.section_order",
                        arms=SECTIONS,
                        user_id=USER,
                        context=CONTEXT,
                    ),
                    DecideRequest(
                        decision_point="discovery.banners",
                        arms=["bn-hel-1", "bn-hel-2", "bn-hel-3"],
                        user_id=USER,
                        context=CONTEXT,
                    ),
                ]
            ),
        ),
        _decide_batch_spec(
            "the section order and one banner of an anonymous viewer in one batch",
            DecideBatchRequest(
                requests=[
                    DecideRequest(
                        decision_point="discovery.section_order", arms=SECTIONS, context=CONTEXT
                    ),
                    DecideRequest(
                        decision_point="discovery.banners", arms=["bn-hel-1"], context=CONTEXT
                    ),
                ]
            ),
        ),
    ]


# -- popularity --------------------------------------------------------------------------------


def _popular_spec(
    description: str,
    scope: PopularityScope,
    key: str,
    kind: EntityKind,
    limit: int,
    *,
    example: str | None,
) -> Spec:
    async def drive(url: str) -> None:
        client = _client(PopularityClient, "popularity", url)
        try:
            got = (await client.popular(scope, key, kind, limit, _deadline())).value
        finally:
            await client.aclose()
        if example is None:
            assert got.ids == []
        else:
            assert 1 <= len(got.ids) <= limit

    ids: Any = [] if example is None else match.each_like(example, min=1, max=limit)
    state = (
        ("nothing is known about the key", {"scope": scope.value, "key": key})
        if example is None
        else ("popularity lists are computed", {"scope": scope.value, "key": key})
    )
    return Spec(
        "popularity",
        description,
        "GET",
        "/v1/popular",
        200,
        drive,
        [state],
        query={"scope": scope.value, "key": key, "kind": kind.value, "limit": str(limit)},
        response={"ids": ids, "generated_at": match.str("2026-11-01T00:00:00+00:00")},
    )


def _popularity() -> list[Spec]:
    city, category, venue = PopularityScope.CITY, PopularityScope.CATEGORY, PopularityScope.VENUE
    return [
        _popular_spec(
            "the most popular venues of a city",
            city,
            "helsinki",
            EntityKind.VENUE,
            200,
            example="v00144",
        ),
        _popular_spec(
            "the most popular brands of a city",
            city,
            "helsinki",
            EntityKind.BRAND,
            200,
            example="b037",
        ),
        _popular_spec(
            "the most popular categories of a city",
            city,
            "helsinki",
            EntityKind.CATEGORY,
            200,
            example="burgers",
        ),
        _popular_spec(
            "the most popular venues of a category, at most the limit",
            category,
            "helsinki:pizza",
            EntityKind.VENUE,
            3,
            example="v00144",
        ),
        _popular_spec(
            "the most popular items of a venue",
            venue,
            VENUE,
            EntityKind.ITEM,
            36,
            example=ITEMS[0],
        ),
        _popular_spec(
            "an unknown venue has an empty list",
            venue,
            "v-unknown",
            EntityKind.ITEM,
            36,
            example=None,
        ),
    ]


# -- catalog -----------------------------------------------------------------------------------

OPENING = {"weekday": match.int(0), "opens": match.str("11:00"), "closes": match.str("01:00")}
VENUE_SHAPE = {
    "id": match.str(VENUE),
    "name": match.str("Old Town Nepalese Garden"),
    "slug": match.str("old-town-nepalese-garden-144"),
    "city": match.str("helsinki"),
    "lat": match.number(60.15687),
    "lon": match.number(25.072906),
    "delivery_radius_m": match.int(6100),
    "timezone": match.str("Europe/Helsinki"),
    "opening_hours": match.like([OPENING]),  # any length, even empty
    "price_level": match.int(2),
}
ITEM_SHAPE = {
    "id": match.str(ITEMS[0]),
    "venue_id": match.str(VENUE),
    "name": match.str("Mini Dal Bhat"),
    "price": {"amount": match.int(1110), "currency": match.regex("EUR", regex=r"[A-Z]{3}")},
}
BRAND_SHAPE = {"id": match.str(BRANDS[0]), "name": match.str("Baltic Burgers")}
CATEGORY_SHAPE = {"slug": match.str("pizza"), "name": match.str("Pizza")}
BANNER_SHAPE = {
    "id": match.str("bn-hel-1"),
    "title": match.str("Free delivery this week"),
    "target_url": match.str("https://app.example/helsinki/promo/free-delivery-this-week"),
    "city": "helsinki",
}


def _batch_spec(
    description: str,
    kind: str,
    found: list[str],
    missing: list[str],
    shape: dict[str, Any],
) -> Spec:
    from clients.contracts import BatchGetRequest

    asked = [*found, *missing]

    async def drive(url: str) -> None:
        client = _client(CatalogClient, "catalog", url)
        try:
            got = (await getattr(client, f"{kind}s")(asked, _deadline())).value
        finally:
            await client.aclose()
        assert set(got) == set(found)  # the missing ones are simply absent

    states: list[tuple[str, dict[str, Any]]] = []
    if found:
        states.append((f"{kind}s exist", {"ids": found}))
    if missing:
        states.append((f"{kind}s do not exist", {"ids": missing}))
    examples = [{**shape, "id": match.str(i)} for i in found]
    entities: Any = match.like(examples, min=len(found), max=len(found)) if found else []
    return Spec(
        "catalog",
        description,
        "POST",
        f"/v1/{kind}s:batchGet",
        200,
        drive,
        states,
        BatchGetRequest(ids=asked),
        response={"entities": entities, "missing": missing},
    )


def _catalog() -> list[Spec]:
    async def categories(url: str) -> None:
        client = _client(CatalogClient, "catalog", url)
        try:
            got = (await client.categories("helsinki", _deadline())).value
        finally:
            await client.aclose()
        assert got
        assert got[0].slug

    async def banners(url: str) -> None:
        client = _client(CatalogClient, "catalog", url)
        try:
            got = (await client.active_banners("helsinki", _deadline())).value
        finally:
            await client.aclose()
        assert got
        assert {b.city for b in got} == {"helsinki"}

    return [
        _batch_spec(
            "venues by id, an unknown id reported missing",
            "venue",
            [VENUE, VENUE_2],
            ["v-unknown"],
            VENUE_SHAPE,
        ),
        _batch_spec("venues by id, all unknown", "venue", [], ["v-unknown", "v-gone"], VENUE_SHAPE),
        _batch_spec(
            "menu items by id, an unknown id reported missing",
            "item",
            ITEMS,
            ["i-unknown"],
            ITEM_SHAPE,
        ),
        _batch_spec(
            "brands by id, an unknown id reported missing",
            "brand",
            BRANDS,
            ["b-unknown"],
            BRAND_SHAPE,
        ),
        Spec(
            "catalog",
            "the categories of a city",
            "GET",
            "/v1/categories",
            200,
            categories,
            [("the city has categories", {"city": "helsinki"})],
            query={"city": "helsinki"},
            response={"categories": match.each_like(CATEGORY_SHAPE, min=1)},
        ),
        Spec(
            "catalog",
            "the active banners of a city",
            "GET",
            "/v1/banners",
            200,
            banners,
            [("the city has active banners", {"city": "helsinki"})],
            query={"city": "helsinki"},
            response={"entities": match.each_like(BANNER_SHAPE, min=1), "missing": []},
        ),
    ]


def all_specs() -> list[Spec]:
    return [*_retrieval(), *_ranking(), *_bandit(), *_popularity(), *_catalog()]


PROVIDERS = ("catalog", "retrieval", "ranking", "bandit", "popularity")
