"""The unit tests' stubs cannot drift from the contract: proven, not assumed.

* Every route of the respx fakes (``tests/fakes.py``) is driven — with each pact request and
  with requests over the fakes' own world — and each answer is validated with the contract
  model and the same semantic checks the provider verification applies to real backends.
* Every respx/httpx stub body written in ``tests/clients`` and ``tests/gateway`` is either
  built from a contract model (``json_response(model)`` / ``model.model_dump()``), or is a
  literal that validates against a contract model, or sits in a test about malformed bodies.
"""

from __future__ import annotations

import ast
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ValidationError

from clients.contracts import (
    BannersBatch,
    BrandsBatch,
    CandidatesBatchRequest,
    CandidatesBatchResponse,
    CandidatesRequest,
    CandidatesResponse,
    CategoriesResponse,
    DecideBatchRequest,
    DecideBatchResponse,
    DecideRequest,
    DecideResponse,
    EntityKind,
    ItemsBatch,
    Location,
    PopularResponse,
    RankBatchRequest,
    RankBatchResponse,
    RankRequest,
    RankResponse,
    RequestContext,
    RetrievalStrategy,
    Surface,
    VenuesBatch,
)
from tests.fakes import FakeBackends
from tools.pact_verifier import BACKENDS, Interaction, check_semantics, load_interactions

ROOT = Path(__file__).resolve().parents[2]
CONTEXT = RequestContext(
    location=Location(lat=60.1699, lon=24.9384),
    local_time="2026-01-05T12:30:00+02:00",
    city="helsinki",
)


def _interaction(
    backend: str, method: str, path: str, body: Any = None, query: dict[str, str] | None = None
) -> Interaction:
    if isinstance(body, BaseModel):
        body = json.loads(body.model_dump_json())
    return Interaction(
        provider=backend,
        description=f"{method} {path}",
        states=(),
        method=method,
        path=path,
        query={k: [v] for k, v in (query or {}).items()},
        body=body,
        status=200,
    )


def _world_requests(fakes: FakeBackends) -> list[Interaction]:
    world = fakes.world
    venues, items = sorted(world.venues), sorted(world.items)
    found: list[Interaction] = []
    for kind, ids in [
        ("venues", [*venues[:5], "v38", "v39", "nope"]),
        ("items", [*items[:5], "nope"]),
        ("brands", [*sorted(world.brands), "nope"]),
        ("banners", [*sorted(world.banners), "nope"]),
    ]:
        found.append(_interaction("catalog", "POST", f"/v1/{kind}:batchGet", {"ids": ids}))
    found.append(_interaction("catalog", "GET", "/v1/categories", query={"city": "helsinki"}))
    found.append(_interaction("catalog", "GET", "/v1/banners", query={"city": "helsinki"}))
    for user in (None, "u0001"):
        batch: list[CandidatesRequest] = []
        for strategy in RetrievalStrategy:
            req = CandidatesRequest(
                surface=Surface.DISCOVERY,
                strategy=strategy,
                user_id=user,
                location=CONTEXT.location,
                category="pizza",
                venue_id="v03",
                cart_item_ids=["i031"],
                limit=7,
            )
            batch.append(req)
            found.append(_interaction("retrieval", "POST", "/v1/candidates", req))
        found.append(
            _interaction(
                "retrieval",
                "POST",
                "/v1/candidates:batch",
                CandidatesBatchRequest(requests=batch),
            )
        )
    ranks: list[RankRequest] = []
    for kind, ids in [
        (EntityKind.VENUE, venues),
        (EntityKind.ITEM, items[:12]),
        (EntityKind.BRAND, sorted(world.brands)),
        (EntityKind.CATEGORY, [c.slug for c in world.categories]),
        (EntityKind.VENUE, []),
    ]:
        req_r = RankRequest(
            surface=Surface.DISCOVERY, kind=kind, context=CONTEXT, candidate_ids=ids
        )
        ranks.append(req_r)
        found.append(_interaction("ranking", "POST", "/v1/rank", req_r))
    found.append(
        _interaction("ranking", "POST", "/v1/rank:batch", RankBatchRequest(requests=ranks))
    )
    decides: list[DecideRequest] = []
    for point, arms in [
        ("discovery.section_order", ["a"]),
        ("discovery.section_order", ["for_you", "order_again", "brands"]),
        ("discovery.banners", sorted(world.banners)),
    ]:
        req_d = DecideRequest(decision_point=point, arms=arms, context=CONTEXT)
        decides.append(req_d)
        found.append(_interaction("bandit", "POST", "/v1/decide", req_d))
    found.append(
        _interaction("bandit", "POST", "/v1/decide:batch", DecideBatchRequest(requests=decides))
    )
    for scope, key, kind in [
        ("city", "helsinki", "venue"),
        ("city", "helsinki", "brand"),
        ("city", "helsinki", "category"),
        ("category", "helsinki:pizza", "venue"),
        ("venue", "v03", "item"),
        ("venue", "nope", "item"),
    ]:
        query = {"scope": scope, "key": key, "kind": kind, "limit": "100"}
        found.append(_interaction("popularity", "GET", "/v1/popular", query=query))
    return found


def _pact_requests() -> list[Interaction]:
    return [i for b in BACKENDS for i in load_interactions(b) if 200 <= i.status < 300]


FAKES = FakeBackends()
CASES = _world_requests(FAKES) + _pact_requests()
MODELS: dict[str, type[BaseModel]] = {
    "/v1/candidates": CandidatesResponse,
    "/v1/candidates:batch": CandidatesBatchResponse,
    "/v1/rank": RankResponse,
    "/v1/rank:batch": RankBatchResponse,
    "/v1/decide": DecideResponse,
    "/v1/decide:batch": DecideBatchResponse,
    "/v1/popular": PopularResponse,
    "/v1/venues:batchGet": VenuesBatch,
    "/v1/items:batchGet": ItemsBatch,
    "/v1/brands:batchGet": BrandsBatch,
    "/v1/banners:batchGet": BannersBatch,
    "/v1/categories": CategoriesResponse,
    "/v1/banners": BannersBatch,
}


NOT_CONTRACT_ROUTES = ("/v1/rewards", "/healthz")  # the gateway never reads rewards' body
BATCHES = {  # batch route -> (backend, the single route each of its requests is answered as)
    "/v1/candidates:batch": ("retrieval", "/v1/candidates"),
    "/v1/rank:batch": ("ranking", "/v1/rank"),
    "/v1/decide:batch": ("bandit", "/v1/decide"),
}


async def test_every_fake_route_is_exercised() -> None:
    """The cases below reach every route of the fakes whose answers the gateway reads."""
    fakes = FakeBackends()
    for case in CASES:
        async with httpx.AsyncClient(
            transport=fakes.transports[case.provider], base_url=f"http://{case.provider}.test"
        ) as client:
            await client.request(
                case.method,
                case.path,
                params=[(k, v) for k, vs in case.query.items() for v in vs],
                json=case.body,
            )
    uncalled = [
        f"{name}: {route!r}"
        for name, router in fakes.routers.items()
        for route in router.routes
        if not route.called and not any(p in repr(route) for p in NOT_CONTRACT_ROUTES)
    ]
    assert not uncalled, uncalled
    assert {c.path for c in CASES} == set(MODELS)


def _param(n: int, case: Interaction) -> Any:
    return pytest.param(case, id=f"{case.provider}:{case.path}:{n}")


@pytest.mark.parametrize("case", [_param(n, c) for n, c in enumerate(CASES)])
async def test_fake_answers_are_contract_valid(case: Interaction) -> None:
    fakes = FakeBackends()
    async with httpx.AsyncClient(
        transport=fakes.transports[case.provider], base_url=f"http://{case.provider}.test"
    ) as client:
        response = await client.request(
            case.method,
            case.path,
            params=[(k, v) for k, vs in case.query.items() for v in vs],
            json=case.body,
        )
    body = response.json()
    MODELS[case.path].model_validate(body)  # raises on drift
    assert check_semantics(case, response.status_code, body) == []
    if case.path in BATCHES:  # each answer checked as a single one would be
        asked = case.body["requests"]
        assert len(body["responses"]) == len(asked)
        for req, resp in zip(asked, body["responses"], strict=True):
            single = replace(case, path=BATCHES[case.path][1], body=req)
            assert check_semantics(single, response.status_code, resp) == []


def _without_decision_id(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k != "decision_id"}


@pytest.mark.parametrize("path", list(BATCHES))
async def test_the_fake_batch_is_the_fake_single_route_in_one_call(path: str) -> None:
    """Same answers in request order, one call and one recorded request per batch, and the
    same failure behaviours; an empty or oversized batch is a 422 like the real backend's.
    A batched decision is a decision of its own: its own id."""
    backend, single_path = BATCHES[path]
    fakes = FakeBackends()
    requests = [c.body for c in CASES if c.provider == backend and c.path == single_path]
    requests = (requests * 16)[:16]
    flattened = {
        "retrieval": fakes.candidate_requests,
        "ranking": fakes.rank_requests,
        "bandit": fakes.decide_requests,
    }[backend]
    async with httpx.AsyncClient(
        transport=fakes.transports[backend], base_url=f"http://{backend}.test"
    ) as client:
        singles = [(await client.post(single_path, json=r)).json() for r in requests]
        assert fakes.calls[backend] == len(requests)
        batch = await client.post(path, json={"requests": requests[::-1]})
        assert batch.status_code == 200
        answers = batch.json()["responses"]
        if backend == "bandit":
            ids = [a["decision_id"] for a in answers + singles]
            assert len(set(ids)) == len(ids)
            assert [_without_decision_id(a) for a in answers] == [
                _without_decision_id(a) for a in singles[::-1]
            ]
        else:
            assert answers == singles[::-1]
        assert fakes.calls[backend] == len(requests) + 1
        assert fakes.requests[backend][-1]["path"] == path
        assert flattened() == requests + requests[::-1]
        for too_many in ([], requests + requests[:1]):
            rejected = await client.post(path, json={"requests": too_many})
            assert rejected.status_code == 422
            assert rejected.json()["detail"]
        fakes.fail(backend, "500", status=503)
        assert (await client.post(path, json={"requests": requests})).status_code == 503
        fakes.fail(backend, "wrong_shape")
        wrong = await client.post(path, json={"requests": requests})
        assert "responses" not in wrong.json()
        fakes.fail(backend, "refused")
        with pytest.raises(httpx.ConnectError):
            await client.post(path, json={"requests": requests})


# -- hand-written stubs in the unit tests ----------------------------------------------------------

STUB_DIRS = [ROOT / "tests" / "clients", ROOT / "tests" / "gateway"]
DELIBERATE = ("malformed", "wrong_shape", "wrong-shape", "invalid", "garbage")


def _stub_bodies() -> list[tuple[str, str, ast.expr]]:
    """``(where, enclosing function, json=…)`` of every 2xx ``httpx.Response`` built by hand."""
    found: list[tuple[str, str, ast.expr]] = []
    for directory in STUB_DIRS:
        for path in sorted(directory.glob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for func in ast.walk(tree):
                if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                for node in ast.walk(func):
                    if not (
                        isinstance(node, ast.Call)
                        and isinstance(node.func, ast.Attribute)
                        and node.func.attr == "Response"
                        and node.args
                        and isinstance(node.args[0], ast.Constant)
                        and isinstance(node.args[0].value, int)
                        and 200 <= node.args[0].value < 300
                    ):
                        continue
                    for kw in node.keywords:
                        if kw.arg == "json":
                            where = f"{path.relative_to(ROOT)}:{node.lineno}"
                            found.append((where, func.name, kw.value))
    return found


def _validates_somewhere(body: Any) -> bool:
    for model in set(MODELS.values()):
        try:
            model.model_validate(body)
        except ValidationError:
            continue
        return True
    return False


def test_hand_written_stub_bodies_come_from_the_contract() -> None:
    bodies = _stub_bodies()
    assert bodies, "the scan found no stubs at all: is it still looking in the right place?"
    unproven: list[str] = []
    for where, func, expr in bodies:
        if (
            isinstance(expr, ast.Call)
            and isinstance(expr.func, ast.Attribute)
            and expr.func.attr == "model_dump"
        ):
            continue
        try:
            literal = ast.literal_eval(expr)
        except ValueError:
            unproven.append(f"{where} ({func}): body is not built from a contract model")
            continue
        health = isinstance(literal, dict) and set(literal) <= {"status", "service"}
        if health or _validates_somewhere(literal) or any(d in func.lower() for d in DELIBERATE):
            continue
        unproven.append(f"{where} ({func}): {literal!r} matches no contract model")
    assert not unproven, "\n".join(unproven)


def test_batch_semantics_catch_a_missing_or_bad_answer() -> None:
    """One answer per request, each held to the single endpoint's rules."""
    asked = {
        "requests": [
            {
                "surface": "discovery",
                "strategy": s,
                "location": {"lat": 60.17, "lon": 24.94},
                "limit": 2,
            }
            for s in ("for_you", "new")
        ]
    }
    case = _interaction("retrieval", "POST", "/v1/candidates:batch", asked)

    def answer(*ids: str) -> dict[str, Any]:
        return {
            "candidates": [{"id": i, "score": 1.0} for i in ids],
            "source_version": "t",
        }

    assert check_semantics(case, 200, {"responses": [answer("v1"), answer("v2")]}) == []
    assert check_semantics(case, 200, {"responses": [answer("v1")]}) == [
        "1 responses to 2 requests"
    ]
    problems = check_semantics(case, 200, {"responses": [answer("v1"), answer("v2", "v2", "v3")]})
    assert problems == [
        "requests[1]: 3 candidates for limit 2",
        "requests[1]: duplicate candidate ids: v2",
    ]


def test_rank_batch_semantics_hold_each_answer_to_the_single_rules() -> None:
    asked = RankBatchRequest(
        requests=[
            RankRequest(surface=Surface.DISCOVERY, context=CONTEXT, candidate_ids=["v1", "v2"]),
            RankRequest(
                surface=Surface.DISCOVERY,
                kind=EntityKind.BRAND,
                context=CONTEXT,
                candidate_ids=["b1"],
            ),
        ]
    )
    case = _interaction("ranking", "POST", "/v1/rank:batch", asked)

    def answer(*ids: str) -> dict[str, Any]:
        return {"scores": [{"id": i, "score": 0.5} for i in ids], "model_version": "t"}

    assert check_semantics(case, 200, {"responses": [answer("v2", "v1"), answer("b1")]}) == []
    assert check_semantics(case, 200, {"responses": [answer("v1", "v2")]}) == [
        "1 responses to 2 requests"
    ]
    assert check_semantics(case, 200, {"responses": [answer("v1", "v2"), answer("b1", "b9")]}) == [
        "requests[1]: scores for ids not asked: b9"
    ]
    assert check_semantics(case, 200, {"scores": []}) == [
        "not a RankBatchResponse: responses: Field required"
    ]


def test_decide_batch_semantics_want_each_decision_valid_and_its_own() -> None:
    asked = DecideBatchRequest(
        requests=[
            DecideRequest(
                decision_point="discovery.section_order", arms=["a", "b"], context=CONTEXT
            ),
            DecideRequest(decision_point="discovery.banners", arms=["x"], context=CONTEXT),
        ]
    )
    case = _interaction("bandit", "POST", "/v1/decide:batch", asked)

    def answer(decision_id: str, *arms: str, propensity: float = 0.5) -> dict[str, Any]:
        return {
            "decision_id": decision_id,
            "ranking": [{"arm": a, "propensity": propensity} for a in arms],
            "policy_version": "t",
        }

    good = {"responses": [answer("d1", "b", "a"), answer("d2", "x")]}
    assert check_semantics(case, 200, good) == []
    assert check_semantics(case, 200, {"responses": [answer("d1", "b", "a")]}) == [
        "1 responses to 2 requests"
    ]
    shared = {"responses": [answer("d1", "b", "a"), answer("d1", "x")]}
    assert check_semantics(case, 200, shared) == ["one decision_id for several requests: d1"]
    bad = {"responses": [answer("d1", "a"), answer("d2", "x", propensity=0.0)]}
    assert check_semantics(case, 200, bad) == [
        "requests[0]: arms left out of the ranking: b",
        "requests[1]: propensity of {'arm': 'x', 'propensity': 0.0} is not in (0, 1]",
    ]
