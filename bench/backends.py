"""Server-side CPU per call of the reference backends' endpoints, in process.

``python -m bench.backends [--users 200] [--rounds 5] [--only retrieval,bandit]``: builds each
backend app exactly as ``python -m backends serve`` does (``backends.server.create_app``),
runs its lifespan (models loaded, lists built), and calls it as a bare ASGI app — no socket,
no HTTP client, no uvicorn — so what is timed (``time.process_time``) is the app's own work:
routing, request validation, fault middleware, the model, response serialisation.

The requests are the ones a gateway sends while it builds pages for *new viewers* (nothing
cached): for each demo user of ``bench.load.demo_users`` at home, at an hour of the day
varied per user, the Discovery page's retrieval batch (``categories``, ``for_you``,
``order_again``, ``new``, ``brands``), its three rank requests (categories, venues, brands)
one by one and as one ``/v1/rank:batch``, its two bandit decisions (banners, section order)
one by one and as one ``/v1/decide:batch``, and its catalog batches; and for the other
surfaces the category listing (``category``, limit 500), the venue page (``venue_items``,
items ranked, ``/v1/popular``) and the cart (``co_purchase``). Shapes and sizes were taken
from a gateway's real calls (limits 36/60, 16-21 categories, 30-45 venues, 7-11 brands).

Every endpoint is called once per user of a warm-up set of viewers, then ``--rounds`` times,
each round over viewers never seen before (so a per-viewer memo cannot flatter a round);
the table gives CPU ms per call of the best round (the least disturbed by other processes).
The bandit journals its decisions to a temporary file, as it does in the live stack.

Two columns: ``app`` is the whole ASGI app (what a backend process spends per call, minus
uvicorn's HTTP parsing); ``logic`` is only the backend methods the endpoint calls (retrieval
``candidates``, ranking ``rank``, bandit ``decide``, catalog lookups, popularity lists) on
requests parsed beforehand, over further new viewers. The difference is the framework:
routing, the fault middleware, request parsing and validation, response serialisation.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from pydantic import BaseModel

from clients.contracts.common import Surface
from gateway.settings import DATA_DIR
from resolvers.plans import load_plans

BACKENDS = ("retrieval", "ranking", "bandit", "catalog", "popularity")
#: A fixed date: requests (and so answers) do not depend on the day the bench runs.
DAY = datetime(2026, 11, 26)
#: The Discovery sections the gateway asks the bandit to order (a viewer with history).
SECTIONS = [s.id for s in load_plans(DATA_DIR / "plans.yaml").surface(Surface.DISCOVERY).sections]


@dataclass(frozen=True)
class Call:
    """One HTTP request to one backend."""

    backend: str
    endpoint: str  # table label, e.g. "POST /v1/rank venue"
    method: str
    path: str
    query: dict[str, Any] = field(default_factory=dict)
    body: Any = None


def _local_time(city_tz: str, minute: int) -> str:
    t = (DAY + timedelta(minutes=minute)).replace(tzinfo=ZoneInfo(city_tz))
    return t.isoformat(timespec="seconds")


def workload(n_users: int = 200, seed: int = 5, skip: int = 0) -> list[Call]:
    """Every call for ``n_users`` demo users (after the first ``skip``), user by user.

    Deterministic for ``(n_users, seed, skip)``; disjoint ``skip`` ranges give disjoint
    viewers, so no round of the benchmark repeats a request another round made.
    """
    from backends.dataset import (
        CATEGORY_SLUGS,
        CITIES,
        ITEMS_PER_VENUE,
        brand_id,
        get_dataset,
        item_id,
        parse_id,
        venue_id,
    )
    from bench.load import demo_users

    ds = get_dataset()
    rng = random.Random(f"{seed}/{skip}")
    city_venues: dict[int, list[int]] = {}
    for v, c in enumerate(ds.v_city.tolist()):
        city_venues.setdefault(int(c), []).append(v)
    city_brands = {
        c: sorted({int(ds.v_brand[v]) for v in vs if ds.v_brand[v] >= 0})
        for c, vs in city_venues.items()
    }
    calls: list[Call] = []
    for u in demo_users(skip + n_users, seed)[skip:]:
        row = parse_id(u.user, "u", ds.n_users)
        assert row is not None
        ci = int(ds.u_city[row])
        city = CITIES[ci]
        minute = rng.choice([8 * 60 + 2, 11 * 60 + 47, 12 * 60 + 30, 18 * 60 + 5, 23 * 60 + 40])
        local_time = _local_time(city.timezone, minute)
        loc = {"lat": u.lat, "lon": u.lon}
        context = {"location": loc, "local_time": local_time, "city": city.id, "platform": None}
        variant = rng.choice(["control", "treatment"])

        def cand(strategy: str, limit: int, surface: str = "discovery", **extra: Any) -> Any:
            return {
                "surface": surface,
                "strategy": strategy,
                "user_id": u.user,  # noqa: B023 - used within this iteration
                "location": loc,  # noqa: B023
                "local_time": local_time,  # noqa: B023
                "category": None,
                "venue_id": None,
                "cart_item_ids": [],
                "limit": limit,
                **extra,
            }

        def rank(kind: str, ids: list[str], surface: str = "discovery") -> Call:
            return Call(
                "ranking",
                f"POST /v1/rank {kind}",
                "POST",
                "/v1/rank",
                body={
                    "surface": surface,
                    "kind": kind,
                    "user_id": u.user,  # noqa: B023
                    "context": context,  # noqa: B023
                    "candidate_ids": ids,
                    "variant": variant,  # noqa: B023
                },
            )

        def decide(point: str, arms: list[str]) -> Call:
            body = {"decision_point": point, "arms": arms, "user_id": u.user, "context": context}  # noqa: B023
            return Call("bandit", "POST /v1/decide", "POST", "/v1/decide", body=body)

        venues = [venue_id(v) for v in rng.sample(city_venues[ci], rng.randint(30, 45))]
        brands = [brand_id(b) for b in rng.sample(city_brands[ci], rng.randint(7, 11))]
        cats = rng.sample(CATEGORY_SLUGS, rng.randint(16, 21))
        discovery = [
            cand("categories", 36),
            cand("for_you", 60),
            cand("order_again", 60),
            cand("new", 60),
            cand("brands", 36),
        ]
        v = parse_id(u.venue, "v", ds.n_venues)
        assert v is not None
        items = [item_id(v * ITEMS_PER_VENUE + k) for k in range(ITEMS_PER_VENUE)]
        batch = "POST /v1/candidates:batch"
        decisions = [
            decide("discovery.banners", [f"bn-{city.code}-{k}" for k in range(1, 6)]),
            decide("discovery.section_order", SECTIONS),
        ]
        ranks = [rank("category", cats), rank("venue", venues), rank("brand", brands)]
        calls += [
            Call("retrieval", f"{batch} discovery", "POST", "/v1/candidates:batch",
                 body={"requests": discovery}),
            *decisions,
            Call("bandit", "POST /v1/decide:batch discovery", "POST", "/v1/decide:batch",
                 body={"requests": [d.body for d in decisions]}),
            *ranks,
            Call("ranking", "POST /v1/rank:batch discovery", "POST", "/v1/rank:batch",
                 body={"requests": [r.body for r in ranks]}),
            Call("catalog", "POST /v1/venues:batchGet", "POST", "/v1/venues:batchGet",
                 body={"ids": venues}),
            Call("catalog", "POST /v1/brands:batchGet", "POST", "/v1/brands:batchGet",
                 body={"ids": brands}),
            Call("retrieval", f"{batch} category", "POST", "/v1/candidates:batch",
                 body={"requests": [cand("category", 500, "category", category=u.category)]}),
            Call("retrieval", f"{batch} venue_page", "POST", "/v1/candidates:batch",
                 body={"requests": [cand("venue_items", 36, "venue_page", venue_id=u.venue)]}),
            rank("item", items, "venue_page"),
            Call("catalog", "POST /v1/items:batchGet", "POST", "/v1/items:batchGet",
                 body={"ids": items}),
            Call("popularity", "GET /v1/popular", "GET", "/v1/popular",
                 query={"scope": "venue", "key": u.venue, "kind": "item", "limit": 36}),
            Call("retrieval", f"{batch} cart", "POST", "/v1/candidates:batch",
                 body={"requests": [cand("co_purchase", 30, "cart", venue_id=u.venue,
                                         cart_item_ids=list(u.items))]}),
        ]  # fmt: skip
    return calls


Prepared = tuple[dict[str, Any], bytes]


def prepare(call: Call) -> Prepared:
    """The ASGI scope and body bytes of ``call`` (built before the clock starts)."""
    body = b"" if call.body is None else json.dumps(call.body).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": call.method,
        "scheme": "http",
        "path": call.path,
        "raw_path": call.path.encode(),
        "query_string": urlencode(call.query).encode(),
        "root_path": "",
        "headers": [
            (b"host", b"backend"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    return scope, body


async def asgi_send(app: FastAPI, prepared: Prepared) -> tuple[int, bytes]:
    """Send one prepared request straight into the ASGI app; (status, body)."""
    scope, body = prepared
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)  # a client that never disconnects
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    status = 0
    chunks: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app({**scope, "state": {}}, receive, send)
    return status, b"".join(chunks)


async def asgi_call(app: FastAPI, call: Call) -> tuple[int, bytes]:
    """Send ``call`` straight into the ASGI app; (status, body)."""
    return await asgi_send(app, prepare(call))


async def run_calls(
    app: FastAPI,
    calls: list[Call],
    check: Callable[[Call, int, bytes], None] | None = None,
) -> float:
    """CPU seconds to answer ``calls`` one after the other (request encoding not counted)."""
    prepared = [prepare(c) for c in calls]
    started = time.process_time()
    for call, request in zip(calls, prepared, strict=True):
        status, body = await asgi_send(app, request)
        if check is not None:
            check(call, status, body)
    return time.process_time() - started


def _must_succeed(call: Call, status: int, body: bytes) -> None:
    if status != 200:
        raise RuntimeError(f"{call.endpoint}: HTTP {status}: {body[:300]!r}")


def _by_endpoint(calls: list[Call], backend: str) -> dict[str, list[Call]]:
    out: dict[str, list[Call]] = {}
    for c in calls:
        if c.backend == backend:
            out.setdefault(c.endpoint, []).append(c)
    return out


def _each_request(
    model: type[BaseModel], handle: Callable[[Any], object]
) -> Callable[[Call], Callable[[], object]]:
    """The logic for a single or ``:batch`` call: each request validated up front, then
    ``handle`` on each (what the endpoint does after parsing)."""

    def prepare_call(call: Call) -> Callable[[], object]:
        batch = call.body["requests"] if call.path.endswith(":batch") else [call.body]
        requests = [model.model_validate(b) for b in batch]
        return lambda: [handle(r) for r in requests]

    return prepare_call


def _logic(backend: str, journal: Path) -> Callable[[Call], Callable[[], object]]:
    """For ``backend``, a function turning a call into a thunk of just the backend's logic:
    the methods its endpoint calls, on a request already parsed (outside the clock)."""
    from backends.bandit.logic import Bandit
    from backends.catalog.logic import get_catalog, split_found
    from backends.popularity.logic import get_popularity
    from backends.ranking.logic import get_ranker
    from backends.retrieval.logic import get_retrieval
    from clients.contracts import (
        BatchGetRequest,
        CandidatesBatchRequest,
        DecideRequest,
        EntityKind,
        PopularityScope,
        RankRequest,
    )

    if backend == "retrieval":
        retrieval = get_retrieval()

        def candidates(call: Call) -> Callable[[], object]:
            reqs = CandidatesBatchRequest.model_validate(call.body).requests
            return lambda: [retrieval.candidates(q) for q in reqs]

        return candidates
    if backend == "ranking":
        return _each_request(RankRequest, get_ranker().rank)
    if backend == "bandit":
        return _each_request(DecideRequest, Bandit(journal=journal).decide)
    if backend == "catalog":
        catalog = get_catalog()
        lookups = {
            "/v1/venues:batchGet": catalog.venue,
            "/v1/items:batchGet": catalog.item,
            "/v1/brands:batchGet": catalog.brand,
        }

        def batch_get(call: Call) -> Callable[[], object]:
            ids, find = BatchGetRequest.model_validate(call.body).ids, lookups[call.path]
            return lambda: split_found(ids, [find(i) for i in ids])

        return batch_get
    popularity = get_popularity()

    def popular(call: Call) -> Callable[[], object]:
        q = call.query
        scope, kind = PopularityScope(q["scope"]), EntityKind(q["kind"])
        return lambda: popularity.popular(scope, q["key"], kind, int(q["limit"]))

    return popular


def run_logic(thunks: list[Callable[[], object]]) -> float:
    started = time.process_time()
    for thunk in thunks:
        thunk()
    return time.process_time() - started


async def measure(n_users: int, rounds: int, only: list[str]) -> dict[str, dict[str, float]]:
    """CPU ms per call per endpoint, of the whole app and of the logic alone (best of
    ``rounds``, each over its own new viewers)."""
    from backends.server import create_app

    warmup = workload(n_users, skip=0)
    timed = [workload(n_users, skip=n_users * (k + 1)) for k in range(rounds)]
    logic_timed = [workload(n_users, skip=n_users * (k + 1 + rounds)) for k in range(rounds)]
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-backends-") as tmp:
        # as in the live stack: the bandit journals every decision
        os.environ["PGW_BANDIT_JOURNAL"] = str(Path(tmp) / "bandit-journal.jsonl")
        for backend in only:
            app = create_app(backend)
            async with app.router.lifespan_context(app):
                # warm-up (imports, caches of entities every viewer shares) and a check
                await run_calls(app, [c for c in warmup if c.backend == backend], _must_succeed)
                per_round = [_by_endpoint(calls, backend) for calls in timed]
                for endpoint in per_round[0]:
                    spent = [await run_calls(app, r[endpoint]) for r in per_round]
                    ms = min(spent) / len(per_round[0][endpoint]) * 1000
                    results[endpoint] = {"app": ms}
            logic = _logic(backend, Path(tmp) / "logic-journal.jsonl")
            for c in warmup:
                if c.backend == backend:
                    logic(c)()
            per_round = [_by_endpoint(calls, backend) for calls in logic_timed]
            for endpoint in per_round[0]:
                spent = [run_logic([logic(c) for c in r[endpoint]]) for r in per_round]
                results[endpoint]["logic"] = min(spent) / len(per_round[0][endpoint]) * 1000
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.backends", description=__doc__)
    parser.add_argument("--users", type=int, default=200, help="demo users (calls per endpoint)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds; the best is shown")
    parser.add_argument("--only", default=",".join(BACKENDS), help="comma-separated backends")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    only = [b for b in args.only.split(",") if b]
    results = asyncio.run(measure(args.users, args.rounds, only))
    if args.json:
        rounded = {k: {m: round(v, 3) for m, v in r.items()} for k, r in results.items()}
        print(json.dumps(rounded, indent=1))
        return 0
    width = max(len(k) for k in results)
    print(f"{'endpoint':{width}s}  {'app':>7s}  {'logic':>7s}   (CPU ms per call)")
    for endpoint, r in results.items():
        print(f"{endpoint:{width}s}  {r['app']:7.3f}  {r['logic']:7.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
