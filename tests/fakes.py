"""A small, contract-valid fake of the five backends for fast gateway tests.

Each backend is a respx router mounted as the gateway's httpx transport, so requests go
through the real clients (timeouts, retries, breaker, cache) without sockets. Every body
it answers is built from the contract models, so the fakes cannot drift from the contract.
Failures are switchable per backend: refused connections, hangs, 500s, malformed JSON and
well-formed JSON of the wrong shape, plus a delay.

Retrieval answers ``POST /v1/candidates`` and ``POST /v1/candidates:batch``, ranking
``POST /v1/rank`` and ``POST /v1/rank:batch``, the bandit ``POST /v1/decide`` and
``POST /v1/decide:batch``: each request of a batch answered as the single route would, in
order (a batched decision gets its own ``decision_id``). A batch is one call in ``calls``
and one entry in ``requests``; :meth:`FakeBackends.candidate_requests`,
:meth:`FakeBackends.rank_requests` and :meth:`FakeBackends.decide_requests` list the
requests of both routes, one per request asked.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import respx
from pydantic import ValidationError

from clients.contracts import (
    Arm,
    BannerEntity,
    BannersBatch,
    BrandEntity,
    BrandsBatch,
    Candidate,
    CandidatesBatchRequest,
    CandidatesBatchResponse,
    CandidatesRequest,
    CandidatesResponse,
    CategoriesResponse,
    CategoryEntity,
    DecideBatchRequest,
    DecideBatchResponse,
    DecideRequest,
    DecideResponse,
    ItemEntity,
    ItemsBatch,
    Money,
    OpeningInterval,
    PopularResponse,
    RankBatchRequest,
    RankBatchResponse,
    RankRequest,
    RankResponse,
    ScoredId,
    VenueEntity,
    VenuesBatch,
)
from clients.contracts.ports import BACKEND_NAMES

BACKENDS = BACKEND_NAMES
HELSINKI = (60.1699, 24.9384)
ALWAYS_OPEN = [OpeningInterval(weekday=d, opens="00:00", closes="00:00") for d in range(7)]
NEVER_OPEN: list[OpeningInterval] = []
FAILURES = ("refused", "hang", "500", "malformed", "wrong_shape")


def _venue(
    n: int, *, far: bool = False, closed: bool = False, category: str = "pizza"
) -> VenueEntity:
    lat = HELSINKI[0] + (0.5 if far else 0.001 * (n % 10))
    brand = BrandEntity(id=f"b{n % 3 + 1}", name=f"Brand {n % 3 + 1}") if n % 4 == 0 else None
    return VenueEntity(
        id=f"v{n:02d}",
        name=f"Venue {n}",
        slug=f"venue-{n}",
        city="helsinki",
        lat=lat,
        lon=HELSINKI[1],
        delivery_radius_m=5000,
        timezone="Europe/Helsinki",
        opening_hours=NEVER_OPEN if closed else ALWAYS_OPEN,
        rating=8.0,
        delivery_minutes=25,
        price_level=2,
        tags=[category],
        categories=[category],
        brand_id=brand.id if brand else None,
        brand=brand,
    )


@dataclass
class World:
    """The fake catalog: 40 venues in Helsinki (v38 is out of range, v39 closed)."""

    venues: dict[str, VenueEntity] = field(default_factory=dict)
    items: dict[str, ItemEntity] = field(default_factory=dict)
    brands: dict[str, BrandEntity] = field(default_factory=dict)
    banners: dict[str, BannerEntity] = field(default_factory=dict)
    categories: list[CategoryEntity] = field(default_factory=list)

    @classmethod
    def build(cls) -> World:
        world = cls()
        for n in range(1, 41):
            category = "sushi" if n % 2 else "pizza"
            v = _venue(n, far=n == 38, closed=n == 39, category=category)
            world.venues[v.id] = v
            for k in range(1, 6):
                item = ItemEntity(
                    id=f"i{n:02d}{k}",
                    venue_id=v.id,
                    name=f"Item {k} of {v.name}",
                    price=Money(amount=900 + k * 100, currency="EUR"),
                )
                world.items[item.id] = item
        for b in range(1, 4):
            world.brands[f"b{b}"] = BrandEntity(id=f"b{b}", name=f"Brand {b}")
        for b in range(1, 4):
            world.banners[f"bn{b}"] = BannerEntity(
                id=f"bn{b}", title=f"Banner {b}", target_url=f"app://promo/{b}", city="helsinki"
            )
        world.categories = [
            CategoryEntity(slug="pizza", name="Pizza"),
            CategoryEntity(slug="sushi", name="Sushi"),
            CategoryEntity(slug="burgers", name="Burgers"),
        ]
        return world

    def snapshot(self) -> dict[str, Any]:
        venue_ids = sorted(self.venues)
        return {
            "generated_at": "2026-11-01T00:00:00+00:00",
            "popular": {
                "city/helsinki/venue": venue_ids[::-1][:30],
                "city/helsinki/brand": ["b3", "b2", "b1"],
                "city/helsinki/category": ["sushi", "pizza", "burgers"],
                "city/helsinki/item": sorted(self.items)[:20],
                "venue/v03/item": ["i035", "i034", "i033"],
                "category/helsinki:pizza/venue": [
                    v for v in venue_ids[::-1] if "pizza" in self.venues[v].categories
                ],
                "category/helsinki:sushi/venue": [
                    v for v in venue_ids[::-1] if "sushi" in self.venues[v].categories
                ],
            },
            "categories": {"helsinki": [c.model_dump(mode="json") for c in self.categories]},
            "banners": {"helsinki": [b.model_dump(mode="json") for b in self.banners.values()]},
        }

    def write_snapshot(self, path: Path) -> Path:
        path.write_text(json.dumps(self.snapshot()), encoding="utf-8")
        return path


@dataclass
class Behaviour:
    """How one fake backend misbehaves right now."""

    failure: str | None = None
    delay_s: float = 0.0
    status: int = 500


class FakeBackends:
    """Five respx routers answering from ``World``; ``transports`` plugs into the gateway."""

    def __init__(self, world: World | None = None) -> None:
        self.world = world or World.build()
        self.behaviour: dict[str, Behaviour] = {name: Behaviour() for name in BACKENDS}
        self.calls: Counter[str] = Counter()
        self.requests: dict[str, list[dict[str, Any]]] = {name: [] for name in BACKENDS}
        self.hang = asyncio.Event()
        self.in_flight: Counter[str] = Counter()
        #: each request's start: the backends that had a request in flight at that moment
        self.in_flight_together: list[frozenset[str]] = []
        self.routers = {name: self._router(name) for name in BACKENDS}

    @property
    def transports(self) -> dict[str, httpx.AsyncBaseTransport]:
        return {name: httpx.MockTransport(r.async_handler) for name, r in self.routers.items()}

    def fail(self, backend: str, failure: str | None, *, status: int = 500) -> None:
        if failure is not None and failure not in FAILURES:
            raise ValueError(f"unknown failure {failure!r}; one of {FAILURES}")
        self.behaviour[backend] = Behaviour(
            failure=failure, delay_s=self.behaviour[backend].delay_s, status=status
        )

    def delay(self, seconds: float, *backends: str) -> None:
        for name in backends or BACKENDS:
            self.behaviour[name].delay_s = seconds

    def reset(self) -> None:
        self.behaviour = {name: Behaviour() for name in BACKENDS}

    def were_in_flight_together(self, *backends: str) -> bool:
        """Whether requests to all of ``backends`` were once in flight at the same time
        (proves fan-out by overlap rather than by a wall-clock bound)."""
        return any(set(backends) <= together for together in self.in_flight_together)

    def candidate_requests(self) -> list[dict[str, Any]]:
        """The bodies of every candidate request retrieval received, single or batched, in
        the order sent (a batch contributes its requests in its own order)."""
        return self._flattened("retrieval", "/v1/candidates")

    def rank_requests(self) -> list[dict[str, Any]]:
        """The bodies of every rank request ranking received, single or batched, in order."""
        return self._flattened("ranking", "/v1/rank")

    def decide_requests(self) -> list[dict[str, Any]]:
        """The bodies of every decide request the bandit received, single or batched, in
        order."""
        return self._flattened("bandit", "/v1/decide")

    def _flattened(self, backend: str, path: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for seen in self.requests[backend]:
            if seen["path"] == f"{path}:batch":
                found.extend(seen["body"].get("requests", []))
            elif seen["path"] == path:
                found.append(seen["body"])
        return found

    # -- plumbing -----------------------------------------------------------------------------

    def _router(self, name: str) -> respx.Router:
        router = respx.Router(base_url=f"http://{name}.test", assert_all_called=False)
        handlers = {
            "catalog": self._catalog_routes,
            "retrieval": self._retrieval_routes,
            "ranking": self._ranking_routes,
            "bandit": self._bandit_routes,
            "popularity": self._popularity_routes,
        }
        handlers[name](router, name)
        router.get("/healthz").mock(return_value=httpx.Response(200, json={"status": "ok"}))
        return router

    def _wrap(self, name: str, answer: Any, status: int = 200) -> Any:
        async def side_effect(request: httpx.Request, **kwargs: Any) -> httpx.Response:
            self.calls[name] += 1
            body = json.loads(request.content) if request.content else {}
            self.requests[name].append(
                {"path": request.url.path, "body": body, "headers": dict(request.headers)}
            )
            behaviour = self.behaviour[name]
            self.in_flight[name] += 1
            self.in_flight_together.append(frozenset(+self.in_flight))
            try:
                if behaviour.delay_s:
                    await asyncio.sleep(behaviour.delay_s)
            finally:
                self.in_flight[name] -= 1
            failure = behaviour.failure
            if failure == "refused":
                raise httpx.ConnectError("connection refused", request=request)
            if failure == "hang":
                await self.hang.wait()
            if failure == "500":
                return httpx.Response(behaviour.status, json={"error": "boom"})
            if failure == "malformed":
                return httpx.Response(
                    200, content=b"{not json", headers={"content-type": "application/json"}
                )
            if failure == "wrong_shape":
                return httpx.Response(200, json={"unexpected": [1, 2, 3]})
            answered = answer(request, body, **kwargs)
            if isinstance(answered, httpx.Response):  # the answer chose its own status
                return answered
            return httpx.Response(status, json=answered)

        return side_effect

    # -- the backends ---------------------------------------------------------------------------

    def _catalog_routes(self, router: respx.Router, name: str) -> None:
        world = self.world

        def batch(store: dict[str, Any], model: Any) -> Any:
            def answer(_r: httpx.Request, body: dict[str, Any]) -> dict[str, Any]:
                ids = body["ids"]
                found = [store[i] for i in ids if i in store]
                missing = [i for i in ids if i not in store]
                return model(entities=found, missing=missing).model_dump(mode="json")

            return answer

        router.post("/v1/venues:batchGet").mock(
            side_effect=self._wrap(name, batch(world.venues, VenuesBatch))
        )
        router.post("/v1/items:batchGet").mock(
            side_effect=self._wrap(name, batch(world.items, ItemsBatch))
        )
        router.post("/v1/brands:batchGet").mock(
            side_effect=self._wrap(name, batch(world.brands, BrandsBatch))
        )
        router.post("/v1/banners:batchGet").mock(
            side_effect=self._wrap(name, batch(world.banners, BannersBatch))
        )
        router.get("/v1/categories").mock(
            side_effect=self._wrap(
                name,
                lambda *_: CategoriesResponse(categories=world.categories).model_dump(mode="json"),
            )
        )
        router.get("/v1/banners").mock(
            side_effect=self._wrap(
                name,
                lambda *_: BannersBatch(
                    entities=list(world.banners.values()), missing=[]
                ).model_dump(mode="json"),
            )
        )

    def _retrieval_routes(self, router: respx.Router, name: str) -> None:
        world = self.world

        def candidates(req: CandidatesRequest) -> CandidatesResponse:
            venue_ids = sorted(world.venues)
            ids: list[str]
            reason = None
            match req.strategy.value:
                case "for_you":
                    ids, reason = venue_ids[:20], "For you"
                case "order_again":
                    ids = ["v05", "v06", "v07"] if req.user_id == "u0001" else []
                    reason = "Because you ordered from it"
                case "new" | "nearby":
                    ids = venue_ids[20:]
                case "category":
                    ids = [v for v in venue_ids if req.category in world.venues[v].categories]
                case "co_purchase":
                    ids = [
                        i
                        for i, item in world.items.items()
                        if item.venue_id == req.venue_id and i not in req.cart_item_ids
                    ] + ["i0101"]  # another venue's item: the gateway must drop it
                    reason = "Often bought together"
                case "venue_items":
                    ids = [i for i, item in world.items.items() if item.venue_id == req.venue_id]
                case "brands":
                    ids = sorted(world.brands)
                case "categories":
                    ids = [c.slug for c in world.categories]
                case _:
                    ids = []
            ids = ids[: req.limit]
            scored = [
                Candidate(id=i, score=float(len(ids) - n), reason=reason) for n, i in enumerate(ids)
            ]
            return CandidatesResponse(candidates=scored, source_version="fake-1")

        def answer(_r: httpx.Request, body: dict[str, Any]) -> dict[str, Any]:
            return candidates(CandidatesRequest.model_validate(body)).model_dump(mode="json")

        def answer_batch(_r: httpx.Request, body: dict[str, Any]) -> Any:
            try:
                batch = CandidatesBatchRequest.model_validate(body)
            except ValidationError as exc:  # as the real backend: the whole batch fails
                return _unprocessable(exc)
            responses = [candidates(req) for req in batch.requests]
            return CandidatesBatchResponse(responses=responses).model_dump(mode="json")

        router.post("/v1/candidates").mock(side_effect=self._wrap(name, answer))
        router.post("/v1/candidates:batch").mock(side_effect=self._wrap(name, answer_batch))

    def _ranking_routes(self, router: respx.Router, name: str) -> None:
        def rank(req: RankRequest) -> RankResponse:
            # Reverse alphabetical: the opposite of retrieval's order, so a test can tell
            # a PERSONALISED section from a CANDIDATE_ORDER one.
            ordered = sorted(req.candidate_ids, reverse=True)
            scores = [ScoredId(id=i, score=float(len(ordered) - n)) for n, i in enumerate(ordered)]
            return RankResponse(scores=scores, model_version=f"fake-{req.variant or 'control'}")

        def answer(_r: httpx.Request, body: dict[str, Any]) -> dict[str, Any]:
            return rank(RankRequest.model_validate(body)).model_dump(mode="json")

        def answer_batch(_r: httpx.Request, body: dict[str, Any]) -> Any:
            try:
                batch = RankBatchRequest.model_validate(body)
            except ValidationError as exc:  # as the real backend: the whole batch fails
                return _unprocessable(exc)
            responses = [rank(req) for req in batch.requests]
            return RankBatchResponse(responses=responses).model_dump(mode="json")

        router.post("/v1/rank").mock(side_effect=self._wrap(name, answer))
        router.post("/v1/rank:batch").mock(side_effect=self._wrap(name, answer_batch))

    def _bandit_routes(self, router: respx.Router, name: str) -> None:
        def decide(req: DecideRequest, decision_id: str) -> DecideResponse:
            arms = list(reversed(req.arms))
            return DecideResponse(
                decision_id=decision_id,
                ranking=[Arm(arm=a, propensity=1 / len(arms)) for a in arms],
                policy_version="fake-ts-1",
            )

        def answer(_r: httpx.Request, body: dict[str, Any]) -> dict[str, Any]:
            req = DecideRequest.model_validate(body)
            return decide(req, f"d-{self.calls[name]}").model_dump(mode="json")

        def answer_batch(_r: httpx.Request, body: dict[str, Any]) -> Any:
            try:
                batch = DecideBatchRequest.model_validate(body)
            except ValidationError as exc:  # as the real backend: the whole batch fails
                return _unprocessable(exc)
            call = self.calls[name]
            responses = [  # each decision its own id, as the real bandit's
                decide(req, f"d-{call}-{n}") for n, req in enumerate(batch.requests)
            ]
            return DecideBatchResponse(responses=responses).model_dump(mode="json")

        router.post("/v1/decide").mock(side_effect=self._wrap(name, answer))
        router.post("/v1/decide:batch").mock(side_effect=self._wrap(name, answer_batch))
        router.post("/v1/rewards").mock(
            side_effect=self._wrap(name, lambda *_: {"accepted": True, "counted": True}, 202)
        )

    def _popularity_routes(self, router: respx.Router, name: str) -> None:
        world = self.world

        def answer(request: httpx.Request, _body: dict[str, Any]) -> dict[str, Any]:
            params = request.url.params
            scope, key, kind = params.get("scope"), params.get("key"), params.get("kind")
            ids: list[str] = []
            if scope == "venue" and kind == "item":
                ids = sorted(
                    (i for i, it in world.items.items() if it.venue_id == key), reverse=True
                )
            elif scope == "city" and kind == "venue":
                ids = sorted(world.venues, reverse=True)
            elif scope == "city" and kind == "brand":
                ids = sorted(world.brands, reverse=True)
            elif scope == "city" and kind == "category":
                ids = [c.slug for c in world.categories]
            elif scope == "category":
                slug = (key or ":").split(":", 1)[1]
                ids = [v for v in sorted(world.venues) if slug in world.venues[v].categories]
            ids = ids[: int(params.get("limit", "50"))]
            return PopularResponse(ids=ids, generated_at="2026-11-01T00:00:00+00:00").model_dump(
                mode="json"
            )

        router.get("/v1/popular").mock(side_effect=self._wrap(name, answer))


def _unprocessable(exc: ValidationError) -> httpx.Response:
    """The 422 FastAPI answers for an invalid body: ``detail`` lists what was wrong."""
    detail = [{"loc": e["loc"], "msg": e["msg"]} for e in exc.errors()]
    return httpx.Response(422, json={"detail": detail})
