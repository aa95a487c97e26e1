"""Load benchmark of the shipped client operations against the live reference stack.

``python -m bench.load [--quick] [--duration-s 4] [--latency-ms 0,20] [--operations ...]
[--variants standard,persisted] [--profile]`` and ``python -m bench.load --soak [--soak-s 300]``.

What it does (see ``bench/README.md`` for the method in full):

* starts the five reference backends and one gateway worker (``tests.live.live_stack``, debug
  off), pins the gateway to CPU 0 and everything else (backends, ``wrk``, this driver) to
  CPU 1 — on a two-core machine the backends compete with the load generator, there is no
  better split;
* sets every backend's latency (``PUT /_faults``: 0 ms, or 20 ± 5 ms as 15 + U(0, 10) ms);
* per operation × user pool × variant: a short warm-up, a closed-loop concurrency ramp with
  ``wrk`` (requests/s at saturation = the best step; percentiles at c=1 from the first step),
  then an open-loop run paced at 70 % of saturation (a Lua schedule in ``delay()``);
* the gateway's CPU (``/proc/<pid>/stat``) and RSS (``/proc/<pid>/status``) around each run;
* the gateway's own overhead from a second, debug-on gateway at c=1: per request, latency
  minus the backend critical path computed from ``extensions.debug`` (:func:`critical_path_ms`);
* writes ``bench/results/<ts>.json`` (raw), ``<ts>.md`` (the table) and ``<ts>.png``
  (latency percentiles against offered load).

Variants: ``standard`` sends the full document (Strawberry's normal path); ``persisted`` sends
only an APQ hash (``extensions.persistedQuery``) after one registration round trip. A gateway
that refuses the persisted form is reported as "not supported", not as a failure.

Every load run is bounded (``wrk -d``, subprocess timeouts) and talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "bench" / "results"
OPERATIONS = ("discovery", "category", "venue_page", "cart")
ROOT_FIELD = {
    "discovery": "discovery",
    "category": "category",
    "venue_page": "venuePage",
    "cart": "cart",
}
# strawberry: full document, gateway with PGW_COMPILED_EXECUTION=false (Strawberry's own
# execution: the baseline); default: full document, gateway as configured (the fast path when
# it is on); persisted: APQ hash only, gateway as configured.
VARIANTS = ("strawberry", "default", "persisted")
BASELINE = "strawberry"
BASELINE_ENV = {"PGW_COMPILED_EXECUTION": "false"}
N_HISTORY_USERS = 4900  # u4901 … u5000 have no order history
GATEWAY_CPU = 0
LOAD_CPU = 1
WRK_MARK = "PGW_WRK "
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# ------------------------------------------------------------------------------------------
# pure parts: parsing, statistics, rendering (unit-tested in tests/test_bench_harness.py)
# ------------------------------------------------------------------------------------------


@dataclass
class WrkRun:
    """One ``wrk`` run as reported by the script's ``done()`` hook (latencies in µs)."""

    requests: int
    duration_us: int
    bytes: int
    errors: dict[str, int]
    gql_errors: int
    latency_us: dict[str, float]
    degraded: int = 0  # pages with "degraded": true (some content from a fallback)

    @property
    def rps(self) -> float:
        return self.requests / (self.duration_us / 1e6) if self.duration_us else 0.0

    @property
    def failed(self) -> int:
        return sum(self.errors.values()) + self.gql_errors

    def ms(self, key: str) -> float:
        return self.latency_us.get(key, math.nan) / 1000.0


def parse_wrk(stdout: str) -> WrkRun:
    """The JSON line the Lua ``done()`` hook prints (``PGW_WRK {...}``)."""
    for line in stdout.splitlines():
        if line.startswith(WRK_MARK):
            data = json.loads(line[len(WRK_MARK) :])
            return WrkRun(
                requests=int(data["requests"]),
                duration_us=int(data["duration_us"]),
                bytes=int(data["bytes"]),
                errors={k: int(v) for k, v in data["errors"].items()},
                gql_errors=int(data.get("gql_errors", 0)),
                latency_us={k: float(v) for k, v in data["latency_us"].items()},
                degraded=int(data.get("degraded", 0)),
            )
    raise ValueError(f"no {WRK_MARK.strip()} line in wrk output:\n{stdout[-2000:]}")


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0–100) with linear interpolation; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    rank = (len(ordered) - 1) * p / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


def critical_path_ms(calls: Sequence[dict[str, Any]]) -> float:
    """The backend critical path of one page from its ``extensions.debug`` backend calls.

    Calls served fresh from the cache (``cache == "hit"``) cost no backend time: they are
    the gateway's own work and count as overhead. Of the rest, the page's dependencies are
    (docs/architecture.md): at t0 retrieval, bandit, popularity and a catalog prefetch run in
    parallel; when retrieval answers, ranking and catalog batches run in parallel. So the
    critical path is the longer of

    * the slowest single call, and
    * the slowest retrieval call + the slowest ranking or catalog call.

    The debug output has no start offsets, so every catalog call is treated as possibly
    chained after retrieval: this can only overstate the critical path (and understate the
    overhead). Each call's ``ms`` is wall time around the client call, so it includes the
    gateway's own HTTP client and response validation for that call.
    """
    backend = [c for c in calls if c.get("cache") != "hit"]
    if not backend:
        return 0.0
    slowest = max(float(c["ms"]) for c in backend)
    retrieval = [float(c["ms"]) for c in backend if c["backend"] == "retrieval"]
    after = [float(c["ms"]) for c in backend if c["backend"] in ("ranking", "catalog")]
    chain = (max(retrieval) if retrieval else 0.0) + (max(after) if after else 0.0)
    return max(slowest, chain)


def page_critical_path_ms(body: dict[str, Any]) -> float:
    """Critical path over all pages of one response (one root field = one page)."""
    pages = ((body.get("extensions") or {}).get("debug") or {}).get("pages") or []
    return max((critical_path_ms(p.get("backendCalls") or []) for p in pages), default=0.0)


def cache_hit_ratio(bodies_calls: Sequence[Sequence[dict[str, Any]]]) -> dict[str, float]:
    """Share of each backend's calls served fresh from the cache."""
    seen: dict[str, list[int]] = {}
    for calls in bodies_calls:
        for c in calls:
            hits = seen.setdefault(c["backend"], [0, 0])
            hits[0] += c.get("cache") == "hit"
            hits[1] += 1
    return {k: round(h / n, 3) for k, (h, n) in sorted(seen.items()) if n}


@dataclass
class Overhead:
    """Gateway overhead at c=1 from the debug-on probe gateway (all ms)."""

    samples: int
    latency_p50: float
    latency_p99: float
    critical_p50: float
    overhead_p50: float
    overhead_p90: float
    overhead_p99: float
    transport_floor_p50: float
    cache_hits: dict[str, float] = field(default_factory=dict)
    degraded: float = 0.0  # share of the probe's pages with "degraded": true


def summarize_overhead(
    latencies_ms: Sequence[float],
    critical_ms: Sequence[float],
    floor_ms: Sequence[float],
    calls: Sequence[Sequence[dict[str, Any]]] = (),
    degraded: int = 0,
) -> Overhead:
    """Per request: overhead = client-observed latency − backend critical path."""
    overheads = [max(0.0, lat - crit) for lat, crit in zip(latencies_ms, critical_ms, strict=True)]
    return Overhead(
        samples=len(overheads),
        latency_p50=round(percentile(latencies_ms, 50), 3),
        latency_p99=round(percentile(latencies_ms, 99), 3),
        critical_p50=round(percentile(critical_ms, 50), 3),
        overhead_p50=round(percentile(overheads, 50), 3),
        overhead_p90=round(percentile(overheads, 90), 3),
        overhead_p99=round(percentile(overheads, 99), 3),
        transport_floor_p50=round(percentile(floor_ms, 50), 3),
        cache_hits=cache_hit_ratio(calls),
        degraded=round(degraded / len(overheads), 3) if overheads else 0.0,
    )


@dataclass
class Step:
    """One measured ``wrk`` run against the gateway under test."""

    kind: str  # "closed" (fixed concurrency) or "paced" (open loop at target_rps)
    connections: int
    rps: float
    p50: float
    p90: float
    p99: float
    max: float
    requests: int
    failed: int
    cpu_ms_per_req: float
    target_rps: float | None = None
    errors: dict[str, int] = field(default_factory=dict)
    # share of the gateway's core used by *other* processes during the run (noise)
    core_other: float | None = None
    degraded: float = 0.0  # share of pages served with "degraded": true


@dataclass
class Case:
    """One operation × pool × variant × backend latency."""

    operation: str
    pool: str
    variant: str
    latency: str
    supported: bool = True
    note: str = ""
    steps: list[Step] = field(default_factory=list)
    overhead: Overhead | None = None
    rss_mb: float | None = None

    @property
    def closed(self) -> list[Step]:
        return [s for s in self.steps if s.kind == "closed"]

    @property
    def saturation(self) -> Step | None:
        """The best closed-loop step that still served pages as well as c=1 did (degraded
        share at most 10 points above c=1's): an overloaded gateway answers from cheap
        fallbacks (deadlines, open breakers), which is not capacity."""
        closed = self.closed
        if not closed:
            return None
        limit = closed[0].degraded + 0.10
        healthy = [s for s in closed if s.degraded <= limit] or closed[:1]
        return max(healthy, key=lambda s: s.rps)

    @property
    def c1(self) -> Step | None:
        return next((s for s in self.closed if s.connections == 1), None)

    @property
    def paced(self) -> Step | None:
        return next((s for s in self.steps if s.kind == "paced"), None)


def step_from(kind: str, connections: int, run: WrkRun, cpu_s: float, target: float | None) -> Step:
    return Step(
        kind=kind,
        connections=connections,
        rps=round(run.rps, 1),
        p50=round(run.ms("p50"), 2),
        p90=round(run.ms("p90"), 2),
        p99=round(run.ms("p99"), 2),
        max=round(run.ms("max"), 2),
        requests=run.requests,
        failed=run.failed,
        cpu_ms_per_req=round(cpu_s * 1000 / run.requests, 3) if run.requests else math.nan,
        target_rps=round(target, 1) if target is not None else None,
        errors={k: v for k, v in run.errors.items() if v},
        degraded=round(run.degraded / run.requests, 3) if run.requests else 0.0,
    )


def saturated(steps: Sequence[Step], gain: float = 0.05) -> bool:
    """The ramp can stop: the last step gained less than ``gain`` over the best before it,
    or it served noticeably more degraded pages than c=1 (overload)."""
    if len(steps) < 2:
        return False
    if steps[-1].degraded > steps[0].degraded + 0.10:
        return True
    best_before = max(s.rps for s in steps[:-1])
    return steps[-1].rps < best_before * (1 + gain)


def _f(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


def _triple(step: Step | None) -> str:
    if step is None:
        return "–"
    return f"{_f(step.p50)} / {_f(step.p90)} / {_f(step.p99)}"


TABLE_HEADER = (
    "| operation | pool | variant | backends | rps at saturation (c) | p50/p90/p99 c=1 ms "
    "| p50/p90/p99 at 70 % ms (achieved rps) | overhead p50/p99 ms | CPU ms/req | RSS MB "
    "| failed | degraded at sat. / 70 % | CPU 0 busy: gateway / others |"
)


def table_row(case: Case) -> str:
    lead = f"| {case.operation} | {case.pool} | {case.variant} | {case.latency} "
    if not case.supported:
        return lead + f"| not supported: {case.note} | | | | | | | | |"
    sat, c1, paced = case.saturation, case.c1, case.paced
    sat_s = f"{_f(sat.rps, 0)} (c={sat.connections})" if sat else "–"
    paced_s = f"{_triple(paced)} ({_f(paced.rps, 0)})" if paced else "–"
    oh = case.overhead
    oh_s = f"{_f(oh.overhead_p50, 2)} / {_f(oh.overhead_p99, 2)}" if oh else "–"
    cpu = _f(sat.cpu_ms_per_req, 2) if sat else "–"
    failed = sum(s.failed for s in case.steps)
    degraded = " / ".join(f"{s.degraded:.0%}" if s else "–" for s in (sat, paced))
    noise = "–"
    if sat and not math.isnan(sat.cpu_ms_per_req):
        own = sat.rps * sat.cpu_ms_per_req / 1000
        other = f"{sat.core_other:.0%}" if sat.core_other is not None else "–"
        noise = f"{own:.0%} / {other}"
    return (
        f"{lead}| {sat_s} | {_triple(c1)} | {paced_s} | {oh_s} | {cpu} | {_f(case.rss_mb, 0)} "
        f"| {failed} | {degraded} | {noise} |"
    )


def ratio_rows(cases: Sequence[Case]) -> list[str]:
    """Each variant ÷ the Strawberry baseline, side by side from the same run."""
    rows: list[str] = []
    by_key = {(c.operation, c.pool, c.latency, c.variant): c for c in cases}
    for c in cases:
        if c.variant == BASELINE or not c.supported:
            continue
        base = by_key.get((c.operation, c.pool, c.latency, BASELINE))
        if base is None or not base.supported or not base.saturation or not c.saturation:
            continue
        rps = c.saturation.rps / base.saturation.rps if base.saturation.rps else math.nan
        cpu = (
            c.saturation.cpu_ms_per_req / base.saturation.cpu_ms_per_req
            if base.saturation.cpu_ms_per_req
            else math.nan
        )
        p50 = c.c1.p50 / base.c1.p50 if c.c1 and base.c1 and base.c1.p50 else math.nan
        rows.append(
            f"| {c.operation} | {c.pool} | {c.variant} | {c.latency} | {_f(rps, 2)}× "
            f"| {_f(p50, 2)}× | {_f(cpu, 2)}× |"
        )
    return rows


def target_lines(cases: Sequence[Case]) -> list[str]:
    """The issue's targets, checked against this run's numbers."""

    def find(op: str, pool: str, latency: str) -> Case | None:
        return _find(op, pool, latency, "default") or _find(op, pool, latency, BASELINE)

    def _find(op: str, pool: str, latency: str, variant: str) -> Case | None:
        return next(
            (
                c
                for c in cases
                if (c.operation, c.pool, c.latency, c.variant) == (op, pool, latency, variant)
                and c.supported
            ),
            None,
        )

    lines: list[str] = []
    warm0 = find("discovery", "warm", "0 ms")
    if warm0 and warm0.saturation:
        rps = warm0.saturation.rps
        lines.append(
            f"1. Discovery, warm, 1 worker: {rps:.0f} rps (target ≥ 1000): {_ok(rps >= 1000)}"
        )
    disc0 = find("discovery", "mixed", "0 ms") or warm0
    if disc0 and disc0.overhead:
        oh = disc0.overhead
        ok = oh.overhead_p50 <= 2 and oh.overhead_p99 <= 8
        lines.append(
            f"2. Discovery overhead at c=1 ({disc0.pool}, 0 ms): p50 {oh.overhead_p50:.2f} ms, "
            f"p99 {oh.overhead_p99:.2f} ms (targets ≤ 2 / ≤ 8): {_ok(ok)}"
        )
    disc20 = find("discovery", "mixed", "20±5 ms") or find("discovery", "warm", "20±5 ms")
    if disc20 and disc20.paced:
        p99 = disc20.paced.p99
        lines.append(
            f"3. Discovery p99 at 70 % of saturation, backends 20±5 ms ({disc20.pool}): "
            f"{p99:.1f} ms (target ≤ 60): {_ok(p99 <= 60)}"
        )
    rss = [c.rss_mb for c in cases if c.rss_mb is not None]
    if rss:
        lines.append(
            f"4. RSS of the worker: max {max(rss):.0f} MB (target ≤ 250; growth: `make soak`): "
            f"{_ok(max(rss) <= 250)}"
        )
    return lines


def _ok(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def render_markdown(cases: Sequence[Case], meta: dict[str, Any]) -> str:
    lines = [
        f"# Benchmark {meta.get('timestamp', '')}",
        "",
        f"`{meta.get('command', '')}` — {meta.get('machine', '')}",
        "",
        TABLE_HEADER,
        "|" + "---|" * (TABLE_HEADER.count("|") - 1),
    ]
    lines.extend(table_row(c) for c in cases)
    ratios = ratio_rows(cases)
    if ratios:
        lines += [
            "",
            f"Ratios to the `{BASELINE}` baseline (same run, side by side):",
            "",
            "| operation | pool | variant | backends | rps | p50 c=1 | CPU ms/req |",
            "|---|---|---|---|---|---|---|",
            *ratios,
        ]
    targets = target_lines(cases)
    if targets:
        lines += ["", "Targets:", "", *targets]
    profile = meta.get("profile")
    if profile:
        lines += ["", f"Profile ({profile.get('what', '')}), top own time:", ""]
        lines += ["| share | function |", "|---|---|"]
        lines += [f"| {share:.1%} | `{name}` |" for name, share in profile.get("self", [])[:15]]
    return "\n".join(lines) + "\n"


def collapse_profile(raw: str, top: int = 25) -> dict[str, list[tuple[str, float]]]:
    """Own-time and inclusive shares per function from py-spy's ``--format raw`` output
    (collapsed stacks: ``frame;frame;frame count``)."""
    own: dict[str, int] = {}
    incl: dict[str, int] = {}
    total = 0
    for line in raw.splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack or not count_s.isdigit():
            continue
        count = int(count_s)
        total += count
        frames = [_frame_name(f) for f in stack.split(";") if f]
        if not frames:
            continue
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for name in set(frames):
            incl[name] = incl.get(name, 0) + count
    if not total:
        return {"self": [], "inclusive": []}

    def ranked(counts: dict[str, int]) -> list[tuple[str, float]]:
        best = sorted(counts.items(), key=lambda kv: -kv[1])[:top]
        return [(name, round(n / total, 4)) for name, n in best]

    return {"self": ranked(own), "inclusive": ranked(incl)}


def _frame_name(frame: str) -> str:
    """``func (path/to/module.py:123)`` → ``func (module.py)``: lines merged."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    short = "/".join(parts[-2:]) if parts else path
    return f"{name} ({short})" if where else name


# ------------------------------------------------------------------------------------------
# the workload: demo users, bodies, the wrk Lua script
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoUser:
    user: str
    lat: float
    lon: float
    venue: str  # a venue of the user's city
    items: tuple[str, ...]  # two items of that venue
    category: str


def demo_users(n: int, seed: int) -> list[DemoUser]:
    """``n`` users with order history (u0001 … u4900), seeded shuffle, at their home."""
    from backends.dataset import CATEGORY_SLUGS, ITEMS_PER_VENUE, get_dataset, item_id
    from backends.dataset import user_id as uid
    from backends.dataset import venue_id as vid

    ds = get_dataset()
    rng = random.Random(seed)
    venues: dict[int, list[int]] = {}
    for v, city in enumerate(ds.v_city.tolist()):
        venues.setdefault(int(city), []).append(v)
    rows = list(range(min(N_HISTORY_USERS, ds.n_users)))
    rng.shuffle(rows)
    users = []
    for u in rows[:n]:
        v = rng.choice(venues[int(ds.u_city[u])])
        picks = rng.sample(range(ITEMS_PER_VENUE), 2)
        users.append(
            DemoUser(
                user=uid(u),
                lat=round(float(ds.u_lat[u]), 6),
                lon=round(float(ds.u_lon[u]), 6),
                venue=vid(v),
                items=tuple(item_id(ITEMS_PER_VENUE * v + k) for k in picks),
                category=rng.choice(CATEGORY_SLUGS),
            )
        )
    return users


def variables(operation: str, u: DemoUser) -> dict[str, Any]:
    location = {"lat": u.lat, "lon": u.lon}
    if operation == "discovery":
        return {"location": location}
    if operation == "category":
        return {"slug": u.category, "location": location, "first": 20}
    if operation == "venue_page":
        return {"venueId": u.venue, "location": location}
    if operation == "cart":
        lines = [{"itemId": i, "quantity": 1} for i in u.items]
        return {"cart": {"venueId": u.venue, "lines": lines}, "location": location}
    raise ValueError(operation)


@dataclass(frozen=True)
class Operation:
    name: str
    document: str
    operation_name: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.document.encode()).hexdigest()

    def body(self, vars_: dict[str, Any], variant: str, *, register: bool = False) -> bytes:
        payload: dict[str, Any] = {"operationName": self.operation_name, "variables": vars_}
        if variant == "standard" or register:
            payload["query"] = self.document
        if variant == "persisted":
            payload["extensions"] = {"persistedQuery": {"version": 1, "sha256Hash": self.sha256}}
        return json.dumps(payload, separators=(",", ":")).encode()


def load_operation(name: str) -> Operation:
    from graphql import OperationDefinitionNode, parse

    from schema.operations import OPERATIONS_DIR, operation_document

    document = operation_document(OPERATIONS_DIR / f"{name}.graphql")
    op = next(d for d in parse(document).definitions if isinstance(d, OperationDefinitionNode))
    assert op.name is not None
    return Operation(name=name, document=document, operation_name=op.name.value)


def lua_string(text: str) -> str:
    """A Lua long-bracket literal holding ``text`` verbatim."""
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    eq = "=" * level
    return f"[{eq}[{text}]{eq}]"


LUA_TEMPLATE = """-- generated by bench/load.py: rotate demo users, count GraphQL errors, print JSON
local ffi = require("ffi")
pcall(ffi.cdef, [[
typedef struct { long tv_sec; long tv_usec; } pgw_timeval;
int gettimeofday(pgw_timeval *tv, void *tz);
]])
local tv = ffi.new("pgw_timeval")
local function now_ms()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) * 1000 + tonumber(tv.tv_usec) / 1000
end

local tokens = {
%(tokens)s
}
local head = %(head)s
local bodies = {
%(bodies)s
}
local tail = %(tail)s
local rate = %(rate)s          -- requests/s for the whole run; 0 = closed loop
local start = %(start)d        -- index of the first user (runs continue the rotation)
local requests, n, i = {}, #bodies, 0
local interval = rate > 0 and 1000 / rate or 0
local next_at = nil
local threads = {}
gql_errors = 0
degraded = 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for k = 1, n do
    requests[k] = wrk.format("POST", "/graphql", {
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. tokens[k],
    }, head .. bodies[k] .. tail)
  end
  i = start %% n
end

function request()
  i = i %% n + 1
  return requests[i]
end

function delay()
  if rate <= 0 then return 0 end
  local t = now_ms()
  -- a fixed schedule (open loop); a backlog over 1 s is dropped, not burst out
  if next_at == nil or next_at < t - 1000 then next_at = t end
  local slot = next_at
  next_at = next_at + interval
  local d = slot - t
  if d <= 0 then return 0 end
  return math.floor(d)
end

function response(status, headers, body)
  if status == 200 and string.find(body, '"errors":', 1, true) then
    gql_errors = gql_errors + 1
  end
  if string.find(body, '"degraded":true', 1, true) then
    degraded = degraded + 1
  end
end

function done(summary, latency, requests_)
  local errs, degr = 0, 0
  for _, t in ipairs(threads) do
    errs = errs + (t:get("gql_errors") or 0)
    degr = degr + (t:get("degraded") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    '%(mark)s{"requests":%%d,"duration_us":%%d,"bytes":%%d,"gql_errors":%%d,"degraded":%%d,' ..
    '"errors":{"connect":%%d,"read":%%d,"write":%%d,"status":%%d,"timeout":%%d},' ..
    '"latency_us":{"min":%%d,"max":%%d,"mean":%%.1f,"stdev":%%.1f,' ..
    '"p50":%%d,"p75":%%d,"p90":%%d,"p99":%%d,"p999":%%d}}\\n',
    summary.requests, summary.duration, summary.bytes, errs, degr,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.max, latency.mean, latency.stdev,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
end
"""


def _common_prefix(texts: Sequence[str]) -> str:
    first, last = min(texts), max(texts)
    n = 0
    while n < len(first) and first[n] == last[n]:
        n += 1
    return first[:n]


def split_common(bodies: Sequence[str]) -> tuple[str, list[str], str]:
    """(common prefix, the differing middles, common suffix) of ``bodies``: the document is
    the same in every body, so the script holds it once (a 4,900-user script stays small and
    wrk loads it in milliseconds)."""
    if not bodies:
        return "", [], ""
    prefix = _common_prefix(bodies)
    room = min(len(b) for b in bodies) - len(prefix)  # the suffix must not overlap it
    suffix = _common_prefix([b[::-1] for b in bodies])[: max(0, room)][::-1]
    if not suffix:
        return prefix, [b[len(prefix) :] for b in bodies], ""
    return prefix, [b[len(prefix) : len(b) - len(suffix)] for b in bodies], suffix


def render_lua(
    entries: Sequence[tuple[str, bytes]], *, rate_rps: float = 0.0, start: int = 0
) -> str:
    """The wrk script: ``entries`` are (bearer token, JSON body) pairs, sent in turn."""
    head, middles, tail = split_common([b.decode() for _, b in entries])
    return LUA_TEMPLATE % {
        "tokens": ",\n".join(lua_string(t) for t, _ in entries),
        "head": lua_string(head),
        "bodies": ",\n".join(lua_string(m) for m in middles),
        "tail": lua_string(tail),
        "rate": f"{max(0.0, rate_rps):.3f}",
        "start": start,
        "mark": WRK_MARK,
    }


# ------------------------------------------------------------------------------------------
# processes: pinning, CPU and memory
# ------------------------------------------------------------------------------------------


def can_pin() -> bool:
    return hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2


def pin(pid: int, cpu: int) -> None:
    """Every thread of ``pid`` onto ``cpu`` (threads started later inherit it)."""
    with contextlib.suppress(FileNotFoundError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.sched_setaffinity(int(tid), {cpu})


def cpu_seconds(pid: int) -> float:
    """utime + stime of the whole process (all threads), seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def core_busy_seconds(cpu: int) -> float:
    """Busy time of one CPU (all processes) from /proc/stat, seconds."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{cpu} "):
            ticks = [int(x) for x in line.split()[1:]]
            idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
            return (sum(ticks[:8]) - idle) / CLK_TCK
    return math.nan


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


# ------------------------------------------------------------------------------------------
# the run
# ------------------------------------------------------------------------------------------


@dataclass
class Config:
    operations: tuple[str, ...] = OPERATIONS
    variants: tuple[str, ...] = VARIANTS
    latencies_ms: tuple[float, ...] = (0.0, 20.0)
    jitter_ms: float = 5.0
    duration_s: float = 3.0
    warmup_s: float = 2.0
    ramp: tuple[int, ...] = (1, 8, 32)
    paced_share: float = 0.7
    mixed_users: int = N_HISTORY_USERS
    warm_users: int = 200
    warm_operations: tuple[str, ...] = ("discovery",)
    probe_requests: int = 150
    probe_s: float = 3.0
    profile: bool = False
    seed: int = 20240601


class Bench:
    """The running stack plus a debug-on probe gateway, and the runs against them."""

    def __init__(self, cfg: Config, stack: Any, work: Path, *, pinned: bool) -> None:
        self.cfg = cfg
        self.stack = stack
        self.work = work
        self.gateway_url: str = stack.gateway_url
        self.gateway_pid: int = stack.procs[-1].pid
        self.probe_url: str = ""
        # variant → (url, pid, probe url) of the gateway that serves it
        self.targets: dict[str, tuple[str, int, str]] = {}
        # False when this case's first page was degraded with the stack idle (nothing to
        # wait for between steps)
        self.expect_undegraded = True
        self.offsets: dict[str, int] = {}
        self.recovery_turn = 0  # which viewer the next recovery probe asks for
        self.pinned = pinned
        self.wrk_prefix = ["taskset", "-c", str(LOAD_CPU)] if self.pinned else []

    # -- wrk --------------------------------------------------------------------------------

    def wrk(
        self,
        url: str,
        entries: Sequence[tuple[str, bytes]],
        connections: int,
        duration_s: float,
        *,
        rate_rps: float = 0.0,
        pool: str = "",
    ) -> WrkRun:
        start = self.offsets.get(pool, 0)
        script = self.work / f"wrk-{os.getpid()}-{time.monotonic_ns()}.lua"
        script.write_text(render_lua(entries, rate_rps=rate_rps, start=start))
        cmd = [
            *self.wrk_prefix,
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(duration_s))}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            str(script),
            f"{url}/graphql",
        ]
        try:
            out = subprocess.run(
                cmd, capture_output=True, text=True, timeout=duration_s + 30, check=False
            )
        finally:
            script.unlink(missing_ok=True)
        run = parse_wrk(out.stdout)
        if pool:
            self.offsets[pool] = (start + run.requests) % len(entries)
        return run

    def measured(
        self,
        entries: Sequence[tuple[str, bytes]],
        connections: int,
        *,
        rate_rps: float = 0.0,
        pool: str = "",
    ) -> Step:
        self.settle()
        self.recovered(entries)
        cpu0 = cpu_seconds(self.gateway_pid)
        core0 = core_busy_seconds(GATEWAY_CPU)
        wall0 = time.monotonic()
        run = self.wrk(
            self.gateway_url,
            entries,
            connections,
            self.cfg.duration_s,
            rate_rps=rate_rps,
            pool=pool,
        )
        cpu = cpu_seconds(self.gateway_pid) - cpu0
        core = core_busy_seconds(GATEWAY_CPU) - core0
        wall = time.monotonic() - wall0
        kind = "paced" if rate_rps else "closed"
        step = step_from(kind, connections, run, cpu, rate_rps or None)
        if self.pinned and wall > 0:
            step.core_other = round(max(0.0, (core - cpu) / wall), 3)
        return step

    def settle(self, idle_share: float = 0.15, timeout_s: float = 15.0) -> float:
        """Wait until the gateway has drained what an earlier run left in flight (wrk stops
        at its deadline; the gateway still answers the requests it had queued): its CPU use
        over 0.25 s falls under ``idle_share`` of a core. Returns the seconds waited."""
        began = time.monotonic()
        last = cpu_seconds(self.gateway_pid)
        while time.monotonic() - began < timeout_s:
            time.sleep(0.25)
            now = cpu_seconds(self.gateway_pid)
            if now - last < 0.25 * idle_share:
                break
            last = now
        return time.monotonic() - began

    def recovered(self, entries: Sequence[tuple[str, bytes]], timeout_s: float = 12.0) -> bool:
        """Wait (up to ``timeout_s``) until the gateway's circuit breakers are closed and a
        page comes back undegraded: an overloaded step opens breakers (open 5 s), and pages
        from fallbacks are cheap, so the next step would otherwise measure a degraded
        gateway. The probe pages go to viewers in turn, so a page or backend answer cached
        earlier cannot stand in for a working backend, and a half-open breaker gets the
        call it needs to close."""
        import httpx

        if not self.expect_undegraded:
            return True
        deadline = time.monotonic() + timeout_s
        turn = 0
        while time.monotonic() < deadline:
            token, body = entries[(self.recovery_turn + turn) % len(entries)]
            turn += 1
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            with contextlib.suppress(httpx.HTTPError, ValueError):
                r = httpx.post(
                    f"{self.gateway_url}/graphql", content=body, headers=headers, timeout=5
                )
                if b'"degraded":true' not in r.content and self.breakers_closed():
                    self.recovery_turn += turn
                    return True
            time.sleep(0.2)
        self.recovery_turn += turn
        return False

    def breakers_closed(self) -> bool:
        """Every ``pgw_circuit_state`` gauge of the measured gateway is 0 (closed)."""
        import httpx

        text = httpx.get(f"{self.gateway_url}/metrics", timeout=5).text
        states = [
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("pgw_circuit_state{")
        ]
        return all(state == 0 for state in states)

    # -- set-up -----------------------------------------------------------------------------

    def set_latency(self, latency_ms: float) -> str:
        if latency_ms <= 0:
            self.stack.clear_faults()
            return "0 ms"
        jitter = min(self.cfg.jitter_ms, latency_ms)
        for backend in self.stack.backend_urls:
            # the fault adds U(0, jitter): base − jitter/2 … base + jitter/2
            self.stack.set_fault(backend, latency_ms=latency_ms - jitter, jitter_ms=2 * jitter)
        return f"{latency_ms:g}±{jitter:g} ms"

    def check(self, url: str, op: Operation, body: bytes, token: str) -> str | None:
        """None when the request answers a page; else what went wrong."""
        import httpx

        r = httpx.post(
            f"{url}/graphql",
            content=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=10,
        )
        try:
            data = r.json()
        except ValueError:
            return f"HTTP {r.status_code}: {r.text[:200]}"
        page = (data.get("data") or {}).get(ROOT_FIELD[op.name]) or {}
        self.expect_undegraded = not page.get("degraded", False)
        if r.status_code != 200 or data.get("errors"):
            errs = data.get("errors") or [{}]
            code = (errs[0].get("extensions") or {}).get("code")
            return f"HTTP {r.status_code} {code or ''} {errs[0].get('message', '')}".strip()
        if not (data.get("data") or {}).get(ROOT_FIELD[op.name]):
            return "no page in the response"
        return None

    def prime(self, url: str, entries: Sequence[tuple[str, bytes]]) -> None:
        """Every viewer of the pool once, one at a time: for the warm pool, so the measured
        runs see warm caches from their first request, however short they are."""
        import httpx

        with httpx.Client(timeout=10, headers={"Content-Type": "application/json"}) as client:
            for token, body in entries:
                client.post(
                    f"{url}/graphql", content=body, headers={"Authorization": f"Bearer {token}"}
                )

    def register(self, url: str, op: Operation, entries: Sequence[tuple[str, bytes]]) -> str | None:
        """APQ: one registration round trip (query + hash), then the hash alone must work."""
        token, body = entries[0]
        vars_ = json.loads(body)["variables"]
        problem = self.check(url, op, op.body(vars_, "persisted", register=True), token)
        if problem:
            return f"registration: {problem}"
        return self.check(url, op, body, token)

    # -- one case ---------------------------------------------------------------------------

    def case(
        self, op: Operation, pool: str, users: Sequence[DemoUser], variant: str, latency: str
    ) -> Case:
        result = Case(operation=op.name, pool=pool, variant=variant, latency=latency)
        form = "persisted" if variant == "persisted" else "standard"
        entries = [(self.stack.token(u.user), op.body(variables(op.name, u), form)) for u in users]
        target = self.targets.get(variant) or self.targets.get("default")
        if target:
            self.gateway_url, self.gateway_pid, self.probe_url = target
        gw = self.gateway_url
        self.settle()
        self.expect_undegraded = True
        self.recovered(entries)  # the previous case may have left breakers open
        problem = (
            self.register(gw, op, entries)
            if form == "persisted"
            else self.check(gw, op, entries[0][1], entries[0][0])
        )
        if problem:
            result.supported = False
            result.note = problem[:120]
            print(f"  {op.name}/{pool}/{variant}/{latency}: not supported: {problem[:120]}")
            return result
        key = f"{pool}:{op.name}:{variant}"
        if pool == "warm":
            self.prime(gw, entries)
        # warm-up: connection pools, caches for this pool, lazy imports (not measured)
        # (c=2: a warm-up that overloads the stack would open breakers before c=1 is measured)
        self.wrk(gw, entries, 2, self.cfg.warmup_s, pool=key)
        for c in self.cfg.ramp:
            step = self.measured(entries, c, pool=key)
            result.steps.append(step)
            print(
                f"  {op.name}/{pool}/{variant}/{latency} c={c}: {step.rps:.0f} rps "
                f"p50 {step.p50:.1f} p99 {step.p99:.1f} ms, {step.cpu_ms_per_req:.2f} CPU ms/req, "
                f"degraded {step.degraded:.0%}, others on CPU {GATEWAY_CPU}: {step.core_other}"
            )
            if saturated(result.closed):
                break
        sat = result.saturation
        if sat is not None and sat.rps > 0:
            target = sat.rps * self.cfg.paced_share
            paced = self.measured(entries, max(sat.connections, 4), rate_rps=target, pool=key)
            result.steps.append(paced)
            print(
                f"  … paced at {target:.0f} rps: {paced.rps:.0f} rps p50 {paced.p50:.1f} "
                f"p90 {paced.p90:.1f} p99 {paced.p99:.1f} ms"
            )
        result.rss_mb = round(rss_mb(self.gateway_pid), 1)
        if self.probe_url:
            result.overhead = self.probe(op, form, entries, key)
            oh = result.overhead
            print(
                f"  … overhead at c=1: p50 {oh.overhead_p50:.2f} p99 {oh.overhead_p99:.2f} ms "
                f"(latency p50 {oh.latency_p50:.1f}, critical path p50 {oh.critical_p50:.1f})"
            )
        return result

    def probe(
        self, op: Operation, variant: str, entries: Sequence[tuple[str, bytes]], key: str
    ) -> Overhead:
        """c=1 against the debug-on gateway: latency, backend critical path, per request."""
        import httpx

        url = self.probe_url
        if variant == "persisted":
            self.register(url, op, entries)
        if key.startswith("warm:"):
            self.prime(url, entries)  # its page cache too, as the main gateway's was
        self.wrk(url, entries, 4, 1.0)  # warm its caches and connections like the main one
        start = self.offsets.get(key, 0)
        lat: list[float] = []
        crit: list[float] = []
        calls: list[list[dict[str, Any]]] = []
        floor: list[float] = []
        degraded = 0
        deadline = time.monotonic() + self.cfg.probe_s
        with httpx.Client(timeout=10) as client:
            for _ in range(20):
                t0 = time.perf_counter()
                client.get(f"{url}/healthz")
                floor.append((time.perf_counter() - t0) * 1000)
            for k in range(self.cfg.probe_requests):
                if time.monotonic() > deadline:
                    break
                token, body = entries[(start + k) % len(entries)]
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                t0 = time.perf_counter()
                r = client.post(f"{url}/graphql", content=body, headers=headers)
                elapsed = (time.perf_counter() - t0) * 1000
                data = r.json()
                if r.status_code != 200 or data.get("errors"):
                    continue
                lat.append(elapsed)
                degraded += b'"degraded":true' in r.content
                crit.append(page_critical_path_ms(data))
                pages = data["extensions"]["debug"]["pages"]
                calls.append([c for p in pages for c in p["backendCalls"]])
        return summarize_overhead(lat, crit, floor, calls, degraded)


def page_cache_env() -> dict[str, str]:
    """The page cache as shipped (the test stack turns it off), or as ``PGW_PAGE_CACHE_TTL_S``
    says: ``PGW_PAGE_CACHE_TTL_S=0 make bench`` measures every page being built."""
    from gateway.settings import Settings

    default = Settings.model_fields["page_cache_ttl_s"].default
    return {"PGW_PAGE_CACHE_TTL_S": os.environ.get("PGW_PAGE_CACHE_TTL_S", str(default))}


@contextlib.contextmanager
def extra_gateway(
    stack: Any,
    log_dir: Path,
    pinned: bool,
    name: str,
    *,
    debug: bool,
    env_extra: dict[str, str] | None = None,
) -> Iterator[tuple[str, int]]:
    """Another gateway against the same backends: the Strawberry baseline, or a debug-on
    twin for the overhead pass. Pinned to the gateway CPU; idle while others are measured."""
    env = {
        "PGW_DEBUG": "true" if debug else "false",
        "PGW_INTROSPECTION": "false",
        "PGW_RATE_LIMIT_ENABLED": "false",
        **page_cache_env(),
        **(env_extra or {}),
    }
    with stack.another_gateway(log_dir / f"gateway-{name}.log", env) as (url, proc):
        if pinned:
            pin(proc.pid, GATEWAY_CPU)
        yield url, proc.pid


def machine_notes() -> str:
    cpus = os.cpu_count() or 0
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.1f} GB RAM"
    return f"{cpus} CPUs ({model}){mem}, Python {sys.version.split()[0]}"


def _latency_key(label: str) -> float:
    return float(label.split("±")[0].split()[0])


def plot(cases: Sequence[Case], path: Path, title: str) -> None:
    """Latency percentiles against offered load: a panel per backend latency × variant; the
    closed-loop ramp in concurrency order (offered load = throughput), ★ the paced run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured = [c for c in cases if c.steps]
    latencies = sorted({c.latency for c in measured}, key=_latency_key)
    variants = [v for v in VARIANTS if any(c.variant == v for c in measured)]
    if not latencies or not variants:
        return
    fig, axes = plt.subplots(
        len(latencies),
        len(variants),
        figsize=(7 * len(variants), 4.5 * len(latencies)),
        squeeze=False,
    )
    for row, latency in enumerate(latencies):
        for col, variant in enumerate(variants):
            ax = axes[row][col]
            for c in measured:
                if (c.latency, c.variant) != (latency, variant):
                    continue
                ramp = sorted(c.closed, key=lambda s: s.connections)
                x = [s.rps for s in ramp]
                (line,) = ax.plot(x, [s.p50 for s in ramp], "o-", label=f"{c.operation}/{c.pool}")
                color = line.get_color()
                ax.plot(x, [s.p90 for s in ramp], ":", color=color, alpha=0.5)
                ax.plot(x, [s.p99 for s in ramp], "^--", color=color, alpha=0.8)
                for s in ramp:
                    ax.annotate(f"c={s.connections}", (s.rps, s.p50), fontsize=6, alpha=0.6)
                if c.paced:
                    ax.plot([c.paced.rps] * 2, [c.paced.p50, c.paced.p99], "*", color=color, ms=11)
            ax.set_title(f"{variant}, backends {latency}")
            ax.set_xlabel("offered load = throughput (requests/s)")
            ax.set_ylabel("ms: p50 —, p90 ···, p99 --, ★ at 70 %")
            ax.set_yscale("log")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def profile_gateway(
    bench: Bench, op: Operation, users: Sequence[DemoUser], out: Path
) -> dict[str, Any]:
    """py-spy over the gateway during an extra discovery run at saturation (not measured)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        return {"error": "py-spy not installed"}
    entries = [
        (bench.stack.token(u.user), op.body(variables(op.name, u), "standard")) for u in users
    ]
    duration = max(4, round(bench.cfg.duration_s) + 2)
    raw = out.with_suffix(".profile.txt")
    cmd = [
        *bench.wrk_prefix,
        spy,
        "record",
        "--pid",
        str(bench.gateway_pid),
        "--duration",
        str(duration),
        "--rate",
        "250",
        "--nonblocking",
        "--format",
        "raw",
        "--output",
        str(raw),
    ]
    spy_proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(0.5)
    bench.wrk(bench.gateway_url, entries, 32, duration - 1, pool="profile")
    try:
        log, _ = spy_proc.communicate(timeout=duration + 30)
    except subprocess.TimeoutExpired:
        spy_proc.kill()
        log, _ = spy_proc.communicate()
    if spy_proc.returncode != 0 or not raw.exists():
        return {"error": f"py-spy failed: {log[-500:]}"}
    summary = collapse_profile(raw.read_text())
    return {"what": f"{op.name}, warm pool, c=32, {duration} s, py-spy 250 Hz", **summary}


def run(cfg: Config, command: str) -> int:
    from tests.live import live_stack

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    log_dir = RESULTS_DIR / f"{stamp}-logs"
    log_dir.mkdir()
    if shutil.which("wrk") is None:
        print("wrk not found: apt-get install -y wrk (make bench installs it)", file=sys.stderr)
        return 2
    pinned = can_pin()
    if pinned:  # everything we start inherits CPU 1; the gateways are moved to CPU 0
        os.sched_setaffinity(0, {LOAD_CPU})
    began = time.monotonic()
    print(f"benchmark {stamp}: logs in {log_dir}")
    cases: list[Case] = []
    meta: dict[str, Any] = {
        "timestamp": stamp,
        "command": command,
        "machine": machine_notes(),
        "pinning": (
            f"gateway on CPU {GATEWAY_CPU}; backends, wrk and the driver on CPU {LOAD_CPU}"
            if pinned
            else "not pinned (fewer than 2 CPUs)"
        ),
        "config": asdict(cfg),
        "default_gateway": _default_engine(),
        "baseline_gateway": f"{BASELINE}: " + " ".join(f"{k}={v}" for k, v in BASELINE_ENV.items()),
    }
    ops = {name: load_operation(name) for name in cfg.operations}
    pools = {
        "mixed": demo_users(cfg.mixed_users, cfg.seed),
        "warm": demo_users(cfg.warm_users, cfg.seed + 1),
    }
    env = {"PGW_DEBUG": "false", "PGW_INTROSPECTION": "false", **page_cache_env()}
    with (
        tempfile.TemporaryDirectory(prefix="pgw-bench-") as tmp,
        live_stack(log_dir, extra_env=env) as stack,
    ):
        bench = Bench(cfg, stack, Path(tmp), pinned=pinned)
        if pinned:
            pin(bench.gateway_pid, GATEWAY_CPU)
        with contextlib.ExitStack() as gateways:
            probe_url, _ = gateways.enter_context(
                extra_gateway(stack, log_dir, pinned, "probe", debug=True)
            )
            bench.targets["default"] = (stack.gateway_url, bench.gateway_pid, probe_url)
            if BASELINE in cfg.variants:
                base = extra_gateway(
                    stack, log_dir, pinned, BASELINE, debug=False, env_extra=BASELINE_ENV
                )
                base_url, base_pid = gateways.enter_context(base)
                base_probe = extra_gateway(
                    stack, log_dir, pinned, f"{BASELINE}-probe", debug=True, env_extra=BASELINE_ENV
                )
                base_probe_url, _ = gateways.enter_context(base_probe)
                bench.targets[BASELINE] = (base_url, base_pid, base_probe_url)
            print(f"stack up in {time.monotonic() - began:.0f} s; {meta['pinning']}")
            for latency_ms in cfg.latencies_ms:
                latency = bench.set_latency(latency_ms)
                for name, op in ops.items():
                    pool_names = ["mixed"] + (["warm"] if name in cfg.warm_operations else [])
                    for pool in pool_names:
                        for variant in cfg.variants:
                            cases.append(bench.case(op, pool, pools[pool], variant, latency))
                            write_results(stamp, cases, meta)  # a cut-short run keeps its data
            bench.set_latency(0)
            bench.gateway_url, bench.gateway_pid, bench.probe_url = bench.targets["default"]
            if cfg.profile and "discovery" in ops:
                print("profiling the gateway under discovery load (py-spy) …")
                meta["profile"] = profile_gateway(
                    bench, ops["discovery"], pools["warm"], RESULTS_DIR / stamp
                )
            meta["gateway_rss_mb_end"] = {
                v: round(rss_mb(pid), 1) for v, (_, pid, _) in bench.targets.items()
            }
    meta["elapsed_s"] = round(time.monotonic() - began, 1)
    markdown = write_results(stamp, cases, meta)
    plot(cases, RESULTS_DIR / f"{stamp}.png", f"gateway latency vs load ({stamp})")
    print()
    print(markdown)
    print(f"wrote {RESULTS_DIR}/{stamp}.json, .md, .png in {meta['elapsed_s']:.0f} s")
    return 0


def _default_engine() -> str:
    from gateway.settings import Settings

    compiled = getattr(Settings.model_fields.get("compiled_execution"), "default", None)
    return f"default: settings as shipped (compiled_execution default = {compiled})"


def write_results(stamp: str, cases: Sequence[Case], meta: dict[str, Any]) -> str:
    """``<stamp>.json`` (raw) and ``<stamp>.md`` (the table); returns the markdown."""
    raw = {"meta": meta, "cases": [_case_dict(c) for c in cases]}
    (RESULTS_DIR / f"{stamp}.json").write_text(json.dumps(raw, indent=2, default=str))
    markdown = render_markdown(cases, meta)
    (RESULTS_DIR / f"{stamp}.md").write_text(markdown)
    return markdown


def _case_dict(c: Case) -> dict[str, Any]:
    data = asdict(c)
    sat = c.saturation
    data["saturation_rps"] = sat.rps if sat else None
    return data


# ------------------------------------------------------------------------------------------
# the soak
# ------------------------------------------------------------------------------------------


def rss_growth(samples: Sequence[tuple[float, float]], after_s: float = 60.0) -> float:
    """Relative RSS growth after ``after_s``: median of the last three samples over the
    first sample at or after ``after_s`` (0.1 = 10 %). NaN without enough samples."""
    later = [(t, r) for t, r in samples if t >= after_s]
    if len(later) < 2:
        return math.nan
    base = later[0][1]
    end = statistics.median(r for _, r in later[-3:])
    return (end - base) / base


def soak(
    cfg: Config,
    soak_s: float,
    interval_s: float,
    max_growth: float,
    command: str,
    soak_rps: float | None = None,
) -> int:
    """Discovery at moderate load (paced at half a c=2 estimate, so pages are built, not
    degraded) for ``soak_s`` seconds; RSS sampled every ``interval_s``; fails on growth
    over ``max_growth`` after the first minute."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tests.live import live_stack

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    log_dir = RESULTS_DIR / f"soak-{stamp}-logs"
    log_dir.mkdir()
    pinned = can_pin()
    if pinned:
        os.sched_setaffinity(0, {LOAD_CPU})
    op = load_operation("discovery")
    users = demo_users(cfg.mixed_users, cfg.seed)
    env = {"PGW_DEBUG": "false", "PGW_INTROSPECTION": "false", **page_cache_env()}
    samples: list[tuple[float, float]] = []
    with (
        tempfile.TemporaryDirectory(prefix="pgw-soak-") as tmp,
        live_stack(log_dir, extra_env=env) as stack,
    ):
        bench = Bench(cfg, stack, Path(tmp), pinned=pinned)
        pid = bench.gateway_pid
        if pinned:
            pin(pid, GATEWAY_CPU)
        entries = [(stack.token(u.user), op.body(variables(op.name, u), "standard")) for u in users]
        # c=2: at higher concurrency the reference backends (one shared core) fall behind and
        # the pages degrade, which would soak the fallback path instead of the real one
        estimate = bench.wrk(stack.gateway_url, entries, 2, 5, pool="soak")
        rate = soak_rps or max(10.0, estimate.rps * 0.5)
        print(
            f"soak: discovery paced at {rate:.0f} rps (c=2 estimate {estimate.rps:.0f}) "
            f"for {soak_s:.0f} s"
        )
        script = Path(tmp) / "soak.lua"
        script.write_text(render_lua(entries, rate_rps=rate, start=bench.offsets.get("soak", 0)))
        cmd = [
            *bench.wrk_prefix,
            "wrk",
            "-t1",
            "-c16",
            f"-d{round(soak_s)}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            str(script),
            f"{stack.gateway_url}/graphql",
        ]
        bench.settle()
        cpu0 = cpu_seconds(pid)
        began = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            while proc.poll() is None and time.monotonic() - began < soak_s + 30:
                t = time.monotonic() - began
                samples.append((round(t, 1), round(rss_mb(pid), 1)))
                print(f"  t={t:5.0f} s  RSS {samples[-1][1]:.1f} MB")
                time.sleep(interval_s)
            out, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        run_ = parse_wrk(out)
        cpu = cpu_seconds(pid) - cpu0
    growth = rss_growth(samples)
    ok = not math.isnan(growth) and growth <= max_growth and run_.failed == 0
    result = {
        "meta": {"timestamp": stamp, "command": command, "machine": machine_notes()},
        "rate_rps": round(rate, 1),
        "achieved_rps": round(run_.rps, 1),
        "requests": run_.requests,
        "failed": run_.failed,
        "degraded": round(run_.degraded / run_.requests, 3) if run_.requests else None,
        "errors": run_.errors,
        "latency_ms": {k: round(v / 1000, 2) for k, v in run_.latency_us.items()},
        "cpu_ms_per_req": round(cpu * 1000 / run_.requests, 3) if run_.requests else None,
        "rss_samples": samples,
        "rss_growth_after_60s": round(growth, 4),
        "max_growth": max_growth,
        "ok": ok,
    }
    path = RESULTS_DIR / f"soak-{stamp}.json"
    path.write_text(json.dumps(result, indent=2))
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot([t for t, _ in samples], [r for _, r in samples], "o-")
    ax.axvline(60, color="grey", linestyle=":")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("gateway RSS (MB)")
    ax.set_title(f"soak: discovery at {rate:.0f} rps; growth after 60 s {growth:+.1%}")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path.with_suffix(".png"), dpi=110)
    plt.close(fig)
    print(
        f"soak: {run_.requests} requests, {run_.failed} failed, p99 "
        f"{run_.ms('p99'):.1f} ms; RSS {samples[0][1]:.0f} → {samples[-1][1]:.0f} MB, growth "
        f"after 60 s {growth:+.1%} (limit {max_growth:.0%}): {'ok' if ok else 'FAILED'}"
    )
    print(f"wrote {path} and {path.with_suffix('.png')}")
    return 0 if ok else 1


# ------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------


def _csv(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM (``timeout`` in the Makefile) unwinds like Ctrl-C: the stack is stopped."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    parser = argparse.ArgumentParser(
        prog="python -m bench.load", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="discovery only, 0 ms, short runs")
    parser.add_argument("--duration-s", type=float, help="seconds per measured wrk run")
    parser.add_argument("--latency-ms", type=_csv, help="backend latencies, e.g. 0,20")
    parser.add_argument("--jitter-ms", type=float, default=5.0, help="± around the latency")
    parser.add_argument("--operations", type=_csv, help=f"of {','.join(OPERATIONS)}")
    parser.add_argument("--variants", type=_csv, help="standard,persisted")
    parser.add_argument("--ramp", type=_csv, help="concurrency steps, e.g. 1,8,32,64")
    parser.add_argument("--profile", action="store_true", help="py-spy the gateway afterwards")
    parser.add_argument("--soak", action="store_true", help="the RSS soak instead")
    parser.add_argument("--soak-s", type=float, default=300.0)
    parser.add_argument("--soak-rps", type=float, help="pace (default: half a c=2 estimate)")
    parser.add_argument("--soak-interval-s", type=float, default=10.0)
    parser.add_argument("--max-growth", type=float, default=0.10)
    args = parser.parse_args(argv)
    command = "python -m bench.load " + " ".join(argv if argv is not None else sys.argv[1:])
    cfg = Config(jitter_ms=args.jitter_ms, profile=args.profile)
    if args.quick:
        cfg.operations = ("discovery",)
        cfg.latencies_ms = (0.0,)
        cfg.duration_s = 3.0
        cfg.warmup_s = 1.0
        cfg.ramp = (1, 16)
        cfg.probe_requests = 60
        cfg.probe_s = 2.0
    if args.duration_s:
        cfg.duration_s = args.duration_s
    if args.latency_ms:
        cfg.latencies_ms = tuple(float(x) for x in args.latency_ms)
    if args.operations:
        unknown = set(args.operations) - set(OPERATIONS)
        if unknown:
            parser.error(f"unknown operations: {sorted(unknown)}")
        cfg.operations = args.operations
    if args.variants:
        cfg.variants = args.variants
    if args.ramp:
        cfg.ramp = tuple(int(x) for x in args.ramp)
    if args.soak:
        return soak(cfg, args.soak_s, args.soak_interval_s, args.max_growth, command, args.soak_rps)
    return run(cfg, command)


if __name__ == "__main__":
    raise SystemExit(main())
