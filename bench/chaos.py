"""Chaos run: every backend × every fault against the live reference stack, under load.

``python -m bench.chaos [--duration-s 5] [--concurrency 8] [--backends ...] [--faults ...]
[--redis]`` starts the five reference backends and a gateway (``tests.live.live_stack``) on
free loopback ports, warms them up, measures a fault-free baseline and then, for each
backend × fault, drives a fixed-duration closed-loop load (``--concurrency`` workers, each
sending its next request when the previous one answers) of realistic surface queries —
mostly Discovery, some category, venue and cart pages — for random demo users (u0001 …
u4900, seeded) at their home location. For every case it asserts:

* no HTTP 5xx and no transport failure (every request answered);
* every response complete: HTTP 200, no ``errors``, every always-present section there with
  the right type, and the whole response valid against ``schema/schema.graphql``;
* p99 of (latency − the surface's budget) within ``--margin-ms``;
* after the fault is cleared (a stopped backend restarted on its port), pages are
  personalised again (ranked sections ``PERSONALISED``, the venue page's popularity
  section ``POPULAR``, ``degraded: false``) within the breaker's open time plus
  ``--recovery-slack-s``.

With ``--redis`` the gateway caches in a private ``redis-server`` (never the machine's
shared 6379) that is killed a third into an extra case and restarted on the same port two
thirds in: no 5xx, complete pages throughout, and cache hits resume after it returns.

Faults: ``down`` (process terminated: connections refused, restarted afterwards), ``hang``,
``500`` (every call HTTP 500), ``malformed`` (every body unparseable or off-contract),
``slow`` (latency twice the Discovery budget) and ``flapping`` (half the calls HTTP 500).

The load generator shares the machine with six server processes, so keep ``--concurrency``
modest on small machines: its own latency is part of what it measures. A table goes to the
terminal and everything (with the failing requests' ids) to
``bench/results/chaos-<timestamp>.json``; logs of the processes go next to it. Exits 1 when
any assertion failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from graphql import DocumentNode, GraphQLSchema, build_schema, execute_sync, parse, validate
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.table import Table

from gateway.auth import mint_token
from tests.live import BACKENDS, ROOT, LiveStack, free_port, live_stack, wait_healthy

RESULTS_DIR = ROOT / "bench" / "results"
SCHEMA_PATH = ROOT / "schema" / "schema.graphql"
PLANS_PATH = ROOT / "gateway" / "data" / "plans.yaml"

FAULTS = ("down", "hang", "500", "malformed", "slow", "flapping")
# Surfaces by their GraphQL root field, with the plan name that holds their budget.
SURFACE_PLAN = {"discovery": "discovery", "category": "category", "venuePage": "venue_page"}
SURFACE_PLAN["cart"] = "cart"
# Share of requests per surface (the rest of the mix is Discovery).
MIX = (("discovery", 0.7), ("category", 0.1), ("venuePage", 0.1), ("cart", 0.1))
N_USERS = 4900  # u4901 … u5000 are reserved for "no history" tests

DISCOVERY_SECTIONS = {
    "banners": "BannerCarousel",
    "categories": "CategoryTiles",
    "for_you": "VenueCarousel",
    "popular_near_you": "VenueCarousel",
    "new_on_the_app": "VenueCarousel",
    "brands": "BrandCarousel",
}
# Sections whose first choice is the ranking model (or the bandit): PERSONALISED when well.
RANKED_DISCOVERY = ("banners", "categories", "for_you", "new_on_the_app", "brands")
SOURCE_ABBR = {
    "PERSONALISED": "PERS",
    "CANDIDATE_ORDER": "CAND",
    "POPULAR": "POP",
    "STALE": "STALE",
    "DEFAULT": "DEF",
}

_VENUE = "id name slug rating deliveryMinutes priceLevel tags imageUrl isOpen distanceMeters "
_VENUE += "brand { id name logoUrl } reason"
_ITEM = "id name price { amount currency } imageUrl venueId reason"
_SECTION = f"""__typename id title source trackingId
  ... on VenueCarousel {{ venues {{ {_VENUE} }} }}
  ... on CategoryTiles {{ categories {{ slug name imageUrl }} }}
  ... on BannerCarousel {{ banners {{ id title imageUrl targetUrl }} }}
  ... on BrandCarousel {{ brands {{ id name logoUrl }} }}
  ... on ItemCarousel {{ items {{ {_ITEM} }} }}"""
QUERIES = {
    "discovery": f"""query ChaosDiscovery($loc: LocationInput!) {{
  discovery(location: $loc) {{ requestId degraded sections {{ {_SECTION} }} }} }}""",
    "category": f"""query ChaosCategory($slug: String!, $loc: LocationInput!) {{
  category(slug: $slug, location: $loc, first: 20) {{
    requestId degraded source category {{ slug name imageUrl }}
    venues {{ totalCount edges {{ cursor node {{ {_VENUE} }} }}
      pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }} }} }}""",
    "venuePage": f"""query ChaosVenue($id: ID!, $loc: LocationInput!) {{
  venuePage(venueId: $id, location: $loc) {{
    requestId degraded venue {{ {_VENUE} }} sections {{ {_SECTION} }} }} }}""",
    "cart": f"""query ChaosCart($cart: CartInput!, $loc: LocationInput!) {{
  cart(cart: $cart, location: $loc) {{ requestId degraded sections {{ {_SECTION} }} }} }}""",
}


# ------------------------------------------------------------------------------------------
# configuration
# ------------------------------------------------------------------------------------------


def surface_budgets_ms(path: Path = PLANS_PATH) -> dict[str, float]:
    """Each surface's budget (ms) from the plans file, keyed by GraphQL root field."""
    plans = yaml.safe_load(path.read_text())["surfaces"]
    return {field: float(plans[plan]["budget_ms"]) for field, plan in SURFACE_PLAN.items()}


def breaker_open_s() -> float:
    """The longest breaker open time the gateway is configured with (defaults: 5 s)."""
    from gateway.settings import Settings

    settings = Settings(environment="development")  # only the breaker settings are read
    return max(cfg.breaker.open_s for cfg in settings.backend_configs().values())


def fault_config(fault: str, budgets: dict[str, float]) -> dict[str, object]:
    """The ``PUT /_faults`` body of a fault (``down`` has none: the process is stopped)."""
    configs: dict[str, dict[str, object]] = {
        "hang": {"hang": True},
        "500": {"error_rate": 1.0},
        "malformed": {"malformed_rate": 1.0},
        "slow": {"latency_ms": 2 * budgets["discovery"]},
        "flapping": {"error_rate": 0.5},
    }
    return configs[fault]


@dataclass(frozen=True)
class ChaosConfig:
    duration_s: float = 5.0
    concurrency: int = 2
    margin_ms: float = 100.0
    recovery_slack_s: float = 5.0
    seed: int = 20240601
    warmup_s: float = 3.0


# ------------------------------------------------------------------------------------------
# the workload
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Planned:
    """One request to send."""

    surface: str
    user: str
    variables: dict[str, Any]

    @property
    def query(self) -> str:
        return QUERIES[self.surface]


@dataclass(frozen=True)
class Workload:
    """Demo users at their home location, and the venues and items of their city."""

    users: list[tuple[str, float, float, int]]  # (user id, lat, lon, city index)
    venues_by_city: dict[int, list[int]]  # city index -> venue rows
    categories: tuple[str, ...]

    @classmethod
    def from_dataset(cls) -> Workload:
        from backends.dataset import CATEGORY_SLUGS, get_dataset, user_id

        ds = get_dataset()
        users = [
            (user_id(u), float(ds.u_lat[u]), float(ds.u_lon[u]), int(ds.u_city[u]))
            for u in range(min(N_USERS, ds.n_users))
        ]
        venues: dict[int, list[int]] = {}
        for v, city in enumerate(ds.v_city.tolist()):
            venues.setdefault(int(city), []).append(v)
        return cls(users=users, venues_by_city=venues, categories=tuple(CATEGORY_SLUGS))

    def plan(self, rng: random.Random, surface: str | None = None, jitter: float = 0.0) -> Planned:
        """A random request; ``jitter`` (degrees) moves the location so caches miss."""
        from backends.dataset import item_id, venue_id

        if surface is None:
            roll, surface = rng.random(), "discovery"
            for name, share in MIX:
                if roll < share:
                    surface = name
                    break
                roll -= share
        user, lat, lon, city = rng.choice(self.users)
        if jitter:
            lat += rng.uniform(-jitter, jitter)
            lon += rng.uniform(-jitter, jitter)
        loc = {"lat": round(lat, 6), "lon": round(lon, 6)}
        venue = rng.choice(self.venues_by_city[city])
        variables: dict[str, Any] = {"loc": loc}
        if surface == "category":
            variables["slug"] = rng.choice(self.categories)
        elif surface == "venuePage":
            variables["id"] = venue_id(venue)
        elif surface == "cart":
            picks = rng.sample(range(25), rng.randint(1, 2))
            lines = [{"itemId": item_id(25 * venue + k), "quantity": 1} for k in picks]
            variables["cart"] = {"venueId": venue_id(venue), "lines": lines}
        return Planned(surface=surface, user=user, variables=variables)


# ------------------------------------------------------------------------------------------
# one response
# ------------------------------------------------------------------------------------------


@dataclass
class Sample:
    """What one request saw. ``body`` and ``planned`` are kept only until validation."""

    surface: str
    user: str
    at_s: float
    latency_ms: float
    status: int  # 0: no HTTP response (timeout, refused, reset)
    request_id: str | None = None
    degraded: bool | None = None
    sources: dict[str, str] = field(default_factory=dict)
    hidden: list[str] = field(default_factory=list)  # carousels emptied by de-duplication
    problems: list[str] = field(default_factory=list)
    failed_calls: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    body: dict[str, Any] | None = field(default=None, repr=False)
    planned: Planned | None = field(default=None, repr=False)

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("body")
        data.pop("planned")
        return data


def _sections(page: dict[str, Any], sample: Sample) -> dict[str, dict[str, Any]]:
    sections = page.get("sections")
    if not isinstance(sections, list):
        sample.problems.append("sections missing")
        return {}
    return {s.get("id"): s for s in sections if isinstance(s, dict)}


def check_shape(sample: Sample, body: Any) -> None:
    """Completeness: 200, no errors, the surface's always-present sections, their sources."""
    if not isinstance(body, dict):
        sample.problems.append("body is not a JSON object")
        return
    if body.get("errors"):
        codes = [(e.get("extensions") or {}).get("code") for e in body["errors"]]
        sample.problems.append(f"errors: {codes} {body['errors'][0].get('message')!r}")
    debug = (body.get("extensions") or {}).get("debug") or {}
    for page in debug.get("pages") or []:
        sample.failed_calls.extend(page.get("failures") or [])
    page = (body.get("data") or {}).get(sample.surface)
    if not isinstance(page, dict):
        sample.problems.append(f"data.{sample.surface} missing")
        return
    sample.degraded = page.get("degraded")
    if not isinstance(sample.degraded, bool):
        sample.problems.append("degraded missing")
    if sample.surface == "category":
        sample.sources = {"category_venues": str(page.get("source"))}
        venues = page.get("venues") or {}
        if not isinstance(venues.get("edges"), list):
            sample.problems.append("category venues missing")
        return
    sections = _sections(page, sample)
    sample.sources = {str(sid): str(s.get("source")) for sid, s in sections.items()}
    expected: dict[str, str] = {
        "discovery": DISCOVERY_SECTIONS,
        "venuePage": {"recommended_items": "ItemCarousel", "popular_items": "ItemCarousel"},
        "cart": {"add_to_order": "ItemCarousel"},
    }[sample.surface]
    # a carousel whose every venue is shown above it is hidden, and its step says so
    emptied = {
        sid
        for page in debug.get("pages") or []
        for sid, step in (page.get("sections") or {}).items()
        if step == "deduplicated"
    }
    for sid, typename in expected.items():
        section = sections.get(sid)
        if section is None and sid in emptied and typename == "VenueCarousel":
            sample.hidden.append(sid)
        elif section is None:
            sample.problems.append(f"section {sid} missing")
        elif section.get("__typename") != typename:
            sample.problems.append(f"section {sid} is {section.get('__typename')}")
    if sample.surface == "venuePage":
        planned = sample.planned
        venue = page.get("venue")
        if venue is None:
            # the schema allows a null venue "only when the catalog is unavailable"
            if sample.degraded is not True:
                sample.problems.append("venue null on a page that is not degraded")
            elif not any(c.startswith("catalog:") for c in sample.failed_calls):
                sample.notes.append("venue null, no catalog failure in extensions.debug")
        elif planned is not None and venue.get("id") != planned.variables["id"]:
            sample.problems.append(f"venue page for another venue: {venue.get('id')}")


class SchemaValidator:
    """Checks a response against the committed schema: re-executes the query over the
    response data with default resolvers, so a missing non-null field, a wrong scalar, an
    unknown enum value or an unknown ``__typename`` is an error, and any field the query did
    not ask for makes the projection differ."""

    def __init__(self, sdl: str) -> None:
        self.schema: GraphQLSchema = build_schema(sdl)
        self.documents: dict[str, DocumentNode] = {}
        for name, query in QUERIES.items():
            document = parse(query)
            errors = validate(self.schema, document)
            if errors:
                raise ValueError(f"chaos query {name} is invalid: {errors[0].message}")
            self.documents[query] = document

    def problems(self, planned: Planned, body: dict[str, Any]) -> list[str]:
        data = body.get("data")
        if not isinstance(data, dict):
            return ["no data"]
        result = execute_sync(
            self.schema,
            self.documents[planned.query],
            root_value=data,
            variable_values=planned.variables,
        )
        if result.errors:
            return [
                f"schema: {e.message} at {'.'.join(map(str, e.path or []))}" for e in result.errors
            ][:3]
        if result.data != data:
            return ["schema: response differs from its projection on the schema"]
        return []


# ------------------------------------------------------------------------------------------
# processes we control: a backend we stop and restart, a private Redis
# ------------------------------------------------------------------------------------------


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


class BackendProcesses:
    """Stops one backend of a :class:`LiveStack` and restarts it on the same port.

    The new process replaces the old one in ``stack.procs``, so whoever owns the stack
    stops it at the end as before.
    """

    def __init__(self, stack: LiveStack, log_dir: Path) -> None:
        self.stack = stack
        self.log_dir = log_dir
        self.restarts = 0

    def _index(self, name: str) -> int:
        for i, proc in enumerate(self.stack.procs):
            args = [str(a) for a in proc.args] if isinstance(proc.args, list | tuple) else []
            if "backends" in args and name in args:
                return i
        raise LookupError(f"no process for backend {name}")

    def stop(self, name: str) -> None:
        _stop(self.stack.procs[self._index(name)])

    def start(self, name: str, timeout_s: float = 60) -> float:
        """Start ``name`` again on its port; seconds until it is healthy."""
        index = self._index(name)
        old = self.stack.procs[index]
        if old.poll() is None:
            return 0.0
        url = self.stack.backend_urls[name]
        port = url.rsplit(":", 1)[1]
        self.restarts += 1
        log = (self.log_dir / f"{name}-restart-{self.restarts}.log").open("wb")
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "backends", "serve", name, "--port", port],
            env=self.stack.backend_env or {**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        self.stack.procs[index] = proc
        wait_healthy(f"{url}/healthz", timeout_s, proc)
        return time.monotonic() - started


class RedisServer:
    """A private, non-persistent ``redis-server`` on a free loopback port."""

    def __init__(self, log_dir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> Any:
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=0.5)

    def start(self, timeout_s: float = 10) -> float:
        self.starts += 1
        log = (self.log_dir / f"redis-{self.starts}.log").open("wb")
        started = time.monotonic()
        self.proc = subprocess.Popen(
            [
                "redis-server",
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = started + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
            with contextlib.suppress(Exception):
                if self.client().ping():
                    return time.monotonic() - started
            time.sleep(0.05)
        raise RuntimeError(f"redis-server on {self.port} not up within {timeout_s}s")

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)

    def keys(self) -> int:
        with contextlib.suppress(Exception):
            return int(self.client().dbsize())
        return -1


# ------------------------------------------------------------------------------------------
# one case
# ------------------------------------------------------------------------------------------


@dataclass
class CaseResult:
    backend: str
    fault: str
    duration_s: float
    requests: int = 0
    http_5xx: int = 0
    no_response: int = 0
    incomplete: int = 0
    degraded_share: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    p99_over_budget_ms: float = 0.0
    p99_ms_by_surface: dict[str, float] = field(default_factory=dict)
    requests_by_surface: dict[str, int] = field(default_factory=dict)
    source_share: dict[str, float] = field(default_factory=dict)
    for_you_share: dict[str, float] = field(default_factory=dict)
    source_by_section: dict[str, dict[str, float]] = field(default_factory=dict)
    failed_calls: dict[str, int] = field(default_factory=dict)
    server_p99_over_budget_ms: float | None = None
    load_avg: float | None = None
    recovery_s: float | None = None
    recovery_blockers: dict[str, int] = field(default_factory=dict)
    restart_s: float | None = None
    cache_hits_after: float | None = None
    redis_keys_after: int | None = None
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    bad_samples: list[dict[str, Any]] = field(default_factory=list)
    slowest: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def name(self) -> str:
        return f"{self.backend}/{self.fault}"


@dataclass(frozen=True)
class Answer:
    """What one response said, kept to compare with the gateway's access log."""

    result: CaseResult
    request_id: str
    surface: str
    degraded: bool
    sources: dict[str, str]


def _percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def _shares(counter: Counter[str]) -> dict[str, float]:
    total = sum(counter.values())
    return {k: v / total for k, v in counter.most_common()} if total else {}


def summarise(
    result: CaseResult, samples: list[Sample], budgets: dict[str, float], margin_ms: float
) -> None:
    """Fill the statistics of ``result`` from ``samples`` and judge the load phase."""
    result.requests = len(samples)
    result.http_5xx = sum(1 for s in samples if s.status >= 500)
    result.no_response = sum(1 for s in samples if s.status == 0)
    bad = [s for s in samples if s.problems]
    result.incomplete = len(bad)
    answered = [s for s in samples if s.degraded is not None]
    result.degraded_share = (
        sum(1 for s in answered if s.degraded) / len(answered) if answered else 0.0
    )
    latencies = [s.latency_ms for s in samples]
    result.p50_ms = _percentile(latencies, 50)
    result.p99_ms = _percentile(latencies, 99)
    result.p99_over_budget_ms = _percentile(
        [s.latency_ms - budgets[s.surface] for s in samples], 99
    )
    by_surface: dict[str, list[float]] = {}
    for s in samples:
        by_surface.setdefault(s.surface, []).append(s.latency_ms)
    result.p99_ms_by_surface = {k: _percentile(v, 99) for k, v in sorted(by_surface.items())}
    result.requests_by_surface = {k: len(v) for k, v in sorted(by_surface.items())}
    result.source_share = _shares(Counter(src for s in samples for src in s.sources.values()))
    by_section: dict[str, Counter[str]] = {}
    for s in samples:
        for sid, src in s.sources.items():
            by_section.setdefault(sid, Counter())[src] += 1
    result.source_by_section = {k: _shares(v) for k, v in sorted(by_section.items())}
    result.for_you_share = _shares(
        Counter(s.sources["for_you"] for s in samples if "for_you" in s.sources)
    )
    for note, count in Counter(n for s in samples for n in s.notes).items():
        example = next(s.request_id for s in samples if note in s.notes)
        result.notes.append(f"{count}× {note} (e.g. request {example})")
    calls = Counter(c for s in samples for c in s.failed_calls)
    result.failed_calls = dict(calls.most_common(8))
    result.bad_samples = [s.summary() for s in (bad + [s for s in samples if s.status >= 500])][:20]
    slowest = sorted(samples, key=lambda s: s.latency_ms - budgets[s.surface], reverse=True)
    result.slowest = [
        {k: v for k, v in s.summary().items() if k not in ("sources",)} for s in slowest[:5]
    ]

    if result.requests == 0:
        result.failures.append("no requests completed")
    if result.http_5xx:
        result.failures.append(f"{result.http_5xx} HTTP 5xx")
    if result.no_response:
        result.failures.append(f"{result.no_response} requests without an HTTP response")
    if result.incomplete:
        first = next(s for s in bad)
        result.failures.append(
            f"{result.incomplete} incomplete/invalid responses, e.g. {first.request_id}: "
            f"{first.problems[0]}"
        )
    if result.p99_over_budget_ms > margin_ms:
        result.failures.append(
            f"p99 over budget {result.p99_over_budget_ms:.0f} ms > margin {margin_ms:.0f} ms"
        )


class ChaosRunner:
    """Drives load and faults against one running :class:`LiveStack`."""

    def __init__(
        self,
        stack: LiveStack,
        config: ChaosConfig,
        log_dir: Path,
        *,
        redis: RedisServer | None = None,
        workload: Workload | None = None,
        console: Console | None = None,
    ) -> None:
        self.stack = stack
        self.config = config
        self.budgets = surface_budgets_ms()
        self.open_s = breaker_open_s()
        self.workload = workload or Workload.from_dataset()
        self.validator = SchemaValidator(SCHEMA_PATH.read_text())
        self.backends = BackendProcesses(stack, log_dir)
        self.redis = redis
        self.rng = random.Random(config.seed)
        self.probe_rng = random.Random(config.seed + 1)
        self.console = console or Console(stderr=True)
        self._tokens: dict[str, str] = {}
        self.answered: list[Answer] = []

    # -- requests ---------------------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        n = self.config.concurrency + 4
        return httpx.AsyncClient(
            timeout=httpx.Timeout(10.0, connect=2.0),
            limits=httpx.Limits(max_connections=n, max_keepalive_connections=n),
        )

    def _headers(self, user: str) -> dict[str, str]:
        token = self._tokens.get(user)
        if token is None:
            token = self._tokens[user] = mint_token(user, self.stack.secret)
        return {"Authorization": f"Bearer {token}"}

    async def send(self, client: httpx.AsyncClient, planned: Planned, t0: float) -> Sample:
        started = time.perf_counter()
        at = time.monotonic() - t0
        try:
            response = await client.post(
                self.stack.graphql_url,
                json={"query": planned.query, "variables": planned.variables},
                headers=self._headers(planned.user),
            )
        except httpx.HTTPError as exc:
            latency = (time.perf_counter() - started) * 1000
            return Sample(
                planned.surface,
                planned.user,
                at,
                latency,
                0,
                problems=[f"no response: {type(exc).__name__}"],
                planned=planned,
            )
        latency = (time.perf_counter() - started) * 1000
        sample = Sample(
            planned.surface,
            planned.user,
            at,
            latency,
            response.status_code,
            request_id=response.headers.get("x-request-id"),
            planned=planned,
        )
        try:
            body = response.json()
        except ValueError:
            sample.problems.append(f"HTTP {response.status_code}: body is not JSON")
            return sample
        if response.status_code != 200:
            sample.problems.append(f"HTTP {response.status_code}")
        check_shape(sample, body)
        if isinstance(body, dict):
            sample.body = body
        return sample

    async def drive(
        self,
        duration_s: float,
        *,
        during: Callable[[float], Awaitable[None]] | None = None,
    ) -> list[Sample]:
        """Closed-loop load for ``duration_s``; ``during(t0)`` runs alongside it."""
        samples: list[Sample] = []
        t0 = time.monotonic()
        end = t0 + duration_s
        async with self._client() as client:

            async def worker() -> None:
                while time.monotonic() < end:
                    samples.append(await self.send(client, self.workload.plan(self.rng), t0))

            jobs: list[Awaitable[Any]] = [worker() for _ in range(self.config.concurrency)]
            if during is not None:
                jobs.append(during(t0))
            await asyncio.gather(*jobs)
        return samples

    def validate(self, samples: list[Sample]) -> None:
        """Schema-validate the kept bodies (after the load, so it costs the gateway no CPU)."""
        for sample in samples:
            if sample.body is not None and sample.planned is not None and not sample.problems:
                sample.problems.extend(self.validator.problems(sample.planned, sample.body))
            sample.body = None

    def remember(self, result: CaseResult, samples: list[Sample]) -> None:
        """Keep what each response said, to compare with the gateway's access log later."""
        result.load_avg = os.getloadavg()[0]
        for s in samples:
            if s.request_id and s.degraded is not None:
                self.answered.append(
                    Answer(result, s.request_id, s.surface, s.degraded, dict(s.sources))
                )

    # -- recovery ---------------------------------------------------------------------------

    async def healthy_page(self, client: httpx.AsyncClient) -> str | None:
        """Why a Discovery page and a venue page, for users and places not in any cache, are
        not yet fully personalised and undegraded; None when they are."""
        discovery = self.workload.plan(self.probe_rng, "discovery", jitter=0.003)
        venue = self.workload.plan(self.probe_rng, "venuePage", jitter=0.003)
        t0 = time.monotonic()
        pages = await asyncio.gather(self.send(client, discovery, t0), self.send(client, venue, t0))
        for page in pages:
            if page.problems:
                return f"{page.surface}: {page.problems[0]}"
        expected = {
            **{("discovery", sid): "PERSONALISED" for sid in RANKED_DISCOVERY},
            ("discovery", "popular_near_you"): "POPULAR",
            ("venuePage", "recommended_items"): "PERSONALISED",
            ("venuePage", "popular_items"): "POPULAR",
        }
        for (surface, sid), source in expected.items():
            page = pages[0] if surface == "discovery" else pages[1]
            if sid in page.hidden:  # built as planned, then emptied by de-duplication
                continue
            if page.sources.get(sid) != source:
                return f"{sid} {page.sources.get(sid)}"
        for page in pages:
            if page.degraded is not False:
                return f"{page.surface} degraded: {', '.join(page.failed_calls[:2])}"
        return None

    async def wait_recovered(
        self, timeout_s: float, result: CaseResult | None = None
    ) -> float | None:
        """Seconds until :meth:`healthy_page` holds, or None if not within ``timeout_s``;
        what held it back is counted in ``result.recovery_blockers``."""
        started = time.monotonic()
        blockers: Counter[str] = Counter()
        try:
            async with self._client() as client:
                while time.monotonic() - started < timeout_s:
                    reason = await self.healthy_page(client)
                    if reason is None:
                        return time.monotonic() - started
                    blockers[reason] += 1
                    await asyncio.sleep(0.2)
            return None
        finally:
            if result is not None:
                result.recovery_blockers = dict(blockers.most_common(5))

    async def cache_hits(self, client: httpx.AsyncClient) -> float:
        text = (await client.get(f"{self.stack.gateway_url}/metrics")).text
        total = 0.0
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if (
                    sample.name == "pgw_cache_requests_total"
                    and sample.labels.get("result") == "hit"
                ):
                    total += sample.value
        return total

    # -- faults -----------------------------------------------------------------------------

    async def _put_fault(self, backend: str, fault: dict[str, object] | None) -> None:
        url = f"{self.stack.backend_urls[backend]}/_faults"
        async with httpx.AsyncClient(timeout=5) as client:
            if fault is None:
                response = await client.delete(url)
            else:
                response = await client.put(url, json=fault)
            response.raise_for_status()

    async def warm_up(self) -> CaseResult:
        """Load without faults until pages are fully personalised: caches, pools, models."""
        await self.drive(self.config.warmup_s)
        recovered = await self.wait_recovered(30)
        if recovered is None:
            raise RuntimeError("the stack never served a fully personalised page")
        return await self.run_case("-", "none")

    async def run_case(self, backend: str, fault: str) -> CaseResult:
        """One backend × fault under load; always leaves the backend healthy and unfaulted."""
        cfg = self.config
        result = CaseResult(backend=backend, fault=fault, duration_s=cfg.duration_s)
        limit_s = self.open_s + cfg.recovery_slack_s
        samples: list[Sample] = []
        cleared = False
        try:
            if fault == "down":
                await asyncio.to_thread(self.backends.stop, backend)
            elif fault != "none":
                await self._put_fault(backend, fault_config(fault, self.budgets))
            samples = await self.drive(cfg.duration_s)
            if fault == "down":
                result.restart_s = await asyncio.to_thread(self.backends.start, backend)
            elif fault != "none":
                await self._put_fault(backend, None)
            cleared = True
            result.recovery_s = await self.wait_recovered(limit_s + 10, result)
        except Exception as exc:  # a broken case is a failed case, and the run goes on
            result.failures.append(f"case aborted: {type(exc).__name__}: {exc}")
        finally:
            if not cleared and backend in BACKENDS:
                with contextlib.suppress(Exception):
                    if fault == "down":
                        result.restart_s = await asyncio.to_thread(self.backends.start, backend)
                    else:
                        await self._put_fault(backend, None)
        self.validate(samples)
        self.remember(result, samples)
        summarise(result, samples, self.budgets, cfg.margin_ms)
        if cleared:
            self._judge_recovery(result, limit_s)
        self._judge_effect(result)
        return result

    def _judge_recovery(self, result: CaseResult, limit_s: float) -> None:
        if result.recovery_s is None:
            result.failures.append(f"not personalised again within {limit_s + 10:.0f} s")
        elif result.recovery_s > limit_s:
            result.failures.append(
                f"recovery {result.recovery_s:.1f} s > breaker open {self.open_s:.0f} s "
                f"+ {self.config.recovery_slack_s:.0f} s"
            )

    def _judge_effect(self, result: CaseResult) -> None:
        """A fault nobody noticed is a chaos run that tested nothing: say so."""
        if result.fault != "none" and result.requests and result.degraded_share == 0:
            result.notes.append("no degraded page seen: the fault had no visible effect")

    async def run_redis_outage(self) -> CaseResult:
        """Kill the gateway's Redis a third into the load, restart it two thirds in."""
        redis = self.redis
        if redis is None:
            raise RuntimeError("no private Redis configured")
        duration = max(self.config.duration_s, 6.0)
        result = CaseResult(backend="redis", fault="outage", duration_s=duration)
        # Redis errors are skipped for a cool-down (5 s by default) before it is tried again.
        limit_s = 5.0 + self.config.recovery_slack_s
        marks: dict[str, float] = {}

        async def outage(t0: float) -> None:
            async with self._client() as client:
                await asyncio.sleep(duration / 3)
                await asyncio.to_thread(redis.stop)
                marks["down_at"] = time.monotonic() - t0
                await asyncio.sleep(duration / 3)
                await asyncio.to_thread(redis.start)
                up = time.monotonic()
                marks["up_at"] = up - t0
                hits_at_restart = await self.cache_hits(client)
                probe = self.workload.plan(self.probe_rng, "discovery")
                while time.monotonic() - up < limit_s + 10:
                    # the same page twice: the second must be served from the cache
                    await self.send(client, probe, t0)
                    if await self.cache_hits(client) > hits_at_restart:
                        result.recovery_s = time.monotonic() - up
                        return
                    await asyncio.sleep(0.2)

        samples: list[Sample] = []
        try:
            samples = await self.drive(duration, during=outage)
        except Exception as exc:
            result.failures.append(f"case aborted: {type(exc).__name__}: {exc}")
        finally:
            if redis.proc is None or redis.proc.poll() is not None:
                await asyncio.to_thread(redis.start)
        self.validate(samples)
        self.remember(result, samples)
        summarise(result, samples, self.budgets, self.config.margin_ms)
        result.redis_keys_after = redis.keys()
        async with self._client() as client:
            result.cache_hits_after = await self.cache_hits(client)
        down, up = marks.get("down_at"), marks.get("up_at")
        if down is not None and up is not None:
            during = [s for s in samples if down <= s.at_s < up]
            result.notes.append(
                f"Redis down {down:.1f}-{up:.1f} s: {len(during)} requests, "
                f"{sum(1 for s in during if s.problems or s.status >= 500)} bad"
            )
            if not during:
                result.failures.append("no requests while Redis was down")
        if result.recovery_s is None:
            result.failures.append(f"no cache hit within {limit_s + 10:.0f} s of Redis returning")
        elif result.recovery_s > limit_s:
            result.failures.append(f"cache hits resumed after {result.recovery_s:.1f} s")
        if not result.redis_keys_after or result.redis_keys_after <= 0:
            result.failures.append("Redis holds no keys after the outage")
        return result


# ------------------------------------------------------------------------------------------
# reporting
# ------------------------------------------------------------------------------------------


def format_shares(shares: dict[str, float]) -> str:
    parts = [f"{SOURCE_ABBR.get(k, k)} {v:.0%}" for k, v in shares.items() if v >= 0.005]
    return " / ".join(parts) or "-"


def format_recovery(result: CaseResult) -> str:
    if result.fault == "none":
        return "-"
    if result.recovery_s is None:
        return "never"
    text = f"{result.recovery_s:.1f} s"
    if result.restart_s:
        text += f" (+{result.restart_s:.1f} s restart)"
    return text


def results_table(results: Sequence[CaseResult], budgets: dict[str, float]) -> Table:
    table = Table(
        title="Chaos: load under each backend fault (latency as the client saw it)",
        caption=(
            "sources: share of all sections served; p99−budget: 99th percentile of each "
            "request's latency minus its surface's budget (gw: the gateway's own time from its "
            "access log) "
            + ", ".join(f"{k} {v:.0f} ms" for k, v in budgets.items())
            + "; recovery: from the fault's end (the backend's restart) to a fully "
            "personalised page; redis: to the first cache hit; load: 1-min load average"
        ),
    )
    for column in ("backend", "fault"):
        table.add_column(column)
    for column in ("requests", "5xx", "bad", "degraded", "p50", "p99", "p99−budget"):
        table.add_column(column, justify="right")
    table.add_column("gw p99−budget", justify="right")
    table.add_column("load", justify="right")
    table.add_column("sources")
    table.add_column("recovery", justify="right")
    table.add_column("verdict")
    for r in results:
        table.add_row(
            r.backend,
            r.fault,
            str(r.requests),
            str(r.http_5xx),
            str(r.incomplete),
            f"{r.degraded_share:.0%}",
            f"{r.p50_ms:.0f} ms",
            f"{r.p99_ms:.0f} ms",
            f"{r.p99_over_budget_ms:+.0f} ms",
            "-"
            if r.server_p99_over_budget_ms is None
            else f"{r.server_p99_over_budget_ms:+.0f} ms",
            "-" if r.load_avg is None else f"{r.load_avg:.1f}",
            format_shares(r.source_share),
            format_recovery(r),
            "[green]pass[/green]" if r.ok else "[red]FAIL[/red]",
        )
    return table


def write_results(path: Path, results: Sequence[CaseResult], meta: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        **meta,
        "passed": all(r.ok for r in results),
        "cases": [{**asdict(r), "ok": r.ok} for r in results],
    }
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")


def scan_log(path: Path) -> list[str]:
    """Error-level lines and tracebacks of a process log (what misbehaved, server side)."""
    if not path.exists():
        return []
    found = []
    for line in path.read_text(errors="replace").splitlines():
        level = ""
        if line.startswith("{"):
            with contextlib.suppress(ValueError, AttributeError):
                level = str(json.loads(line).get("level", "")).lower()
        if (
            level in ("error", "critical", "exception")
            or line.startswith(("Traceback", "ERROR:", "CRITICAL:"))
            or "exception" in level
        ):
            found.append(line[:600])
    return found


# ------------------------------------------------------------------------------------------
# the CLI
# ------------------------------------------------------------------------------------------


def cross_check_log(path: Path, answered: Sequence[Answer], budgets: dict[str, float]) -> int:
    """Compare each response with the gateway's access-log line for its request id.

    Fills each case's server-side p99 over budget (the log's ``duration_ms``: the gateway's
    own time from parse to result, without the queueing before it and the transport), and
    notes responses the log describes differently — a page the client saw as degraded but
    the log (and the metrics and spans, which read the same traces) records as not degraded
    hides a fallback from operators. Returns the number of such disagreements.
    """
    logged: dict[str, dict[str, Any]] = {}
    if path.exists():
        for line in path.read_text(errors="replace").splitlines():
            if not line.startswith("{"):
                continue
            with contextlib.suppress(ValueError, AttributeError):
                entry = json.loads(line)
                if entry.get("event") == "graphql" and entry.get("request_id"):
                    logged[entry["request_id"]] = entry
    cases: dict[int, CaseResult] = {}
    mismatches: dict[int, list[str]] = {}
    excess: dict[int, list[float]] = {}
    for answer in answered:
        entry = logged.get(answer.request_id)
        if entry is None:
            continue
        key = id(answer.result)
        cases[key] = answer.result
        with contextlib.suppress(TypeError, ValueError):
            excess.setdefault(key, []).append(float(entry["duration_ms"]) - budgets[answer.surface])
        sources = entry.get("sources") or {}
        if bool(entry.get("degraded")) != answer.degraded or any(
            sources.get(k, v) != v for k, v in answer.sources.items()
        ):
            mismatches.setdefault(key, []).append(
                f"{answer.request_id} ({answer.surface}: response degraded={answer.degraded}, "
                f"log degraded={bool(entry.get('degraded'))})"
            )
    for key, values in excess.items():
        cases[key].server_p99_over_budget_ms = _percentile(values, 99)
    for key, found in mismatches.items():
        cases[key].notes.append(
            f"{len(found)} responses disagree with the gateway's access log, e.g. "
            + "; ".join(found[:3])
        )
    return sum(len(found) for found in mismatches.values())


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (e.g. from ``timeout``) unwinds like Ctrl-C, so every process is stopped."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


async def run_matrix(
    runner: ChaosRunner,
    cases: Sequence[tuple[str, str]],
    *,
    redis: bool,
    max_total_s: float,
    on_result: Callable[[CaseResult], None],
) -> list[CaseResult]:
    started = time.monotonic()
    results = [await runner.warm_up()]
    on_result(results[0])
    todo: list[tuple[str, str]] = [*cases, *([("redis", "outage")] if redis else [])]
    for backend, fault in todo:
        if time.monotonic() - started > max_total_s:
            skipped = CaseResult(backend=backend, fault=fault, duration_s=0)
            skipped.failures.append(f"skipped: the run exceeded {max_total_s:.0f} s")
            results.append(skipped)
            on_result(skipped)
            continue
        if backend == "redis":
            result = await runner.run_redis_outage()
        else:
            result = await runner.run_case(backend, fault)
        results.append(result)
        on_result(result)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.chaos", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--duration-s", type=float, default=5.0, help="load per case")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=ChaosConfig.concurrency,
        help="concurrent requests (closed loop); keep it low on small machines",
    )
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--faults", nargs="+", choices=FAULTS, default=list(FAULTS))
    parser.add_argument("--redis", action="store_true", help="private Redis, with an outage")
    parser.add_argument("--margin-ms", type=float, default=100.0, help="p99 allowance")
    parser.add_argument("--recovery-slack-s", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=ChaosConfig.seed)
    parser.add_argument("--max-total-s", type=float, default=480.0, help="skip cases after")
    args = parser.parse_args(argv)

    console = Console() if sys.stdout.isatty() else Console(width=210)
    config = ChaosConfig(
        duration_s=args.duration_s,
        concurrency=args.concurrency,
        margin_ms=args.margin_ms,
        recovery_slack_s=args.recovery_slack_s,
        seed=args.seed,
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS_DIR / f"chaos-{stamp}.json"
    log_dir = RESULTS_DIR / f"chaos-{stamp}-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    cases = [(b, f) for b in args.backends for f in args.faults]
    started = time.monotonic()
    results: list[CaseResult] = []
    runner: ChaosRunner | None = None
    budgets = surface_budgets_ms()

    def on_result(result: CaseResult) -> None:
        verdict = "pass" if result.ok else "FAIL: " + "; ".join(result.failures)
        console.print(
            f"[{time.monotonic() - started:5.0f} s] {result.name:<22} {result.requests:>4} req "
            f"p99 {result.p99_ms:4.0f} ms  recovery {format_recovery(result):>10}  {verdict}"
        )
        for note in result.notes:
            console.print(f"        note: {note}")

    redis = RedisServer(log_dir) if args.redis else None
    interrupted = False
    with _terminate_as_interrupt():
        try:
            if redis is not None:
                redis.start()
            extra = {"PGW_REDIS_URL": redis.url} if redis is not None else {}
            console.print(
                f"starting the stack (logs in {log_dir.relative_to(ROOT)}); "
                f"{len(cases)} cases × {args.duration_s:g} s at concurrency {args.concurrency}"
            )
            with live_stack(log_dir, extra_env=extra) as stack:
                console.print(f"stack up in {time.monotonic() - started:.0f} s")
                runner = ChaosRunner(stack, config, log_dir, redis=redis, console=console)
                results = asyncio.run(
                    run_matrix(
                        runner,
                        cases,
                        redis=redis is not None,
                        max_total_s=args.max_total_s,
                        on_result=on_result,
                    )
                )
        except KeyboardInterrupt:
            interrupted = True
            console.print("[red]interrupted: stopping everything[/red]")
        finally:
            if redis is not None:
                redis.stop()
    elapsed = time.monotonic() - started
    gateway_errors = scan_log(log_dir / "gateway.log")
    log_mismatches = (
        cross_check_log(log_dir / "gateway.log", runner.answered, budgets) if runner else 0
    )
    write_results(
        out,
        results,
        {
            "started": stamp,
            "elapsed_s": round(elapsed, 1),
            "interrupted": interrupted,
            "config": asdict(config),
            "redis": args.redis,
            "cpus": os.cpu_count(),
            "budgets_ms": budgets,
            "gateway_log_errors": gateway_errors[:50],
            "log_mismatches": log_mismatches,
        },
    )
    if results:
        console.print(results_table(results, budgets))
    for result in results:
        for failure in result.failures:
            console.print(f"[red]{result.name}[/red]: {failure}")
        for note in result.notes:
            console.print(f"[yellow]{result.name}[/yellow]: {note}")
    if gateway_errors:
        console.print(f"[yellow]{len(gateway_errors)} error lines in the gateway log[/yellow]")
    console.print(f"{len(results)} cases in {elapsed:.0f} s; results in {out.relative_to(ROOT)}")
    passed = bool(results) and not interrupted and all(r.ok for r in results)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
