"""Generates ``gateway-dashboard.json``, the Grafana dashboard over the gateway's ``pgw_*``
metrics (``gateway/metrics.py``).

    python deploy/grafana/generate.py          # rewrite the JSON
    python deploy/grafana/generate.py --check  # exit 1 if the JSON is out of date

Edit this file, not the JSON: ``tests/test_grafana_dashboard.py`` fails when they differ,
when a query names a metric or label the gateway does not export, or when a latency
panel's budget line disagrees with ``budget_ms`` in ``gateway/data/plans.yaml``.
Import the JSON in Grafana (Dashboards → New → Import) and pick the Prometheus data source.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
OUT = HERE / "gateway-dashboard.json"
PLANS = HERE.parents[1] / "gateway" / "data" / "plans.yaml"

DS = {"type": "prometheus", "uid": "${datasource}"}
RATE = "[$__rate_interval]"
SURFACE = 'surface=~"$surface"'
BACKEND = 'backend=~"$backend"'

Panel = dict[str, Any]


def rate(selector: str) -> str:
    return f"rate({selector}{RATE})"


def target(expr: str, legend: str, ref: str = "A") -> dict[str, Any]:
    return {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": ref, "range": True}


def timeseries(
    title: str,
    description: str,
    targets: list[dict[str, Any]],
    *,
    unit: str = "short",
    stack: str | None = None,
    thresholds: list[dict[str, Any]] | None = None,
    max_value: float | None = None,
) -> Panel:
    custom: dict[str, Any] = {
        "drawStyle": "line",
        "lineWidth": 1,
        "fillOpacity": 10 if stack is None else 60,
        "showPoints": "never",
        "spanNulls": True,
        "stacking": {"mode": stack or "none", "group": "A"},
        "thresholdsStyle": {"mode": "line" if thresholds else "off"},
    }
    defaults: dict[str, Any] = {"unit": unit, "custom": custom, "min": 0}
    if max_value is not None:
        defaults["max"] = max_value
    defaults["thresholds"] = {
        "mode": "absolute",
        "steps": thresholds or [{"color": "green", "value": None}],
    }
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "legend": {"displayMode": "table", "placement": "bottom", "calcs": ["mean", "max"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    }


def row(title: str) -> Panel:
    return {"type": "row", "title": title, "collapsed": False, "panels": []}


def surfaces() -> dict[str, int]:
    """Surface name → latency budget in ms, from the plans file."""
    plans = yaml.safe_load(PLANS.read_text(encoding="utf-8"))
    return {name: int(plan["budget_ms"]) for name, plan in plans["surfaces"].items()}


def latency_panel(surface: str, budget_ms: int) -> Panel:
    sel = f'pgw_graphql_request_duration_seconds_bucket{{surface="{surface}"}}'
    targets = [
        target(
            f"histogram_quantile({q}, sum by (le) (rate({sel}{RATE})))",
            f"p{int(q * 100)}",
            ref,
        )
        for q, ref in ((0.5, "A"), (0.95, "B"), (0.99, "C"))
    ]
    return timeseries(
        f"{surface}: latency vs {budget_ms} ms budget",
        f"p50/p95/p99 of `{surface}` operations; the red line is its budget (budget_ms "
        "in plans.yaml). p99 at the line means pages are being cut by the deadline: check "
        "the deadline-exceeded and backend panels.",
        targets,
        unit="s",
        thresholds=[
            {"color": "green", "value": None},
            {"color": "red", "value": budget_ms / 1000},
        ],
    )


def stat(title: str, description: str, expr: str, unit: str, steps: list[Any]) -> Panel:
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": [target(expr, title)],
        "fieldConfig": {
            "defaults": {"unit": unit, "thresholds": {"mode": "absolute", "steps": steps}},
            "overrides": [],
        },
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background",
            "graphMode": "area",
            "textMode": "auto",
        },
    }


def panels() -> list[Panel]:
    requests = f"pgw_graphql_requests_total{{{SURFACE}}}"
    sections = f"pgw_section_source_total{{{SURFACE}}}"
    backend_calls = f"pgw_backend_requests_total{{{BACKEND}}}"
    backend_buckets = f"pgw_backend_request_duration_seconds_bucket{{{BACKEND}}}"
    cache = 'pgw_cache_requests_total{cache=~"$backend"}'
    requests_not_ok = f'pgw_graphql_requests_total{{{SURFACE}, outcome!="ok"}}'
    sections_fallback = f'pgw_section_source_total{{{SURFACE}, source!="PERSONALISED"}}'
    backend_failed = f'pgw_backend_requests_total{{{BACKEND}, outcome!="ok"}}'
    cache_hits = 'pgw_cache_requests_total{cache=~"$backend", result="hit"}'
    green = {"color": "green", "value": None}

    out: list[Panel] = [row("Overview")]
    out += [
        stat(
            "Requests / s",
            "GraphQL operations per second on the selected surfaces, all outcomes.",
            f"sum(rate({requests}{RATE}))",
            "reqps",
            [green],
        ),
        stat(
            "Degraded share",
            "Share of operations answered with degraded: true (some section or the section "
            "order fell back because of a failure).",
            f'sum(rate(pgw_graphql_requests_total{{{SURFACE}, outcome="degraded"}}{RATE}))'
            f" / sum(rate({requests}{RATE}))",
            "percentunit",
            [green, {"color": "orange", "value": 0.05}, {"color": "red", "value": 0.25}],
        ),
        stat(
            "Error share",
            "Share of operations that hit a bug (INTERNAL_SERVER_ERROR). Backend failures are "
            "never errors: they show as degraded.",
            f'sum(rate(pgw_graphql_requests_total{{{SURFACE}, outcome="error"}}{RATE}))'
            f" / sum(rate({requests}{RATE}))",
            "percentunit",
            [green, {"color": "red", "value": 0.001}],
        ),
        stat(
            "Breakers open",
            "Backends whose circuit breaker is open in at least one worker (0 closed, "
            "1 half-open, 2 open).",
            f"count(max by (backend) (pgw_circuit_state{{{BACKEND}}}) == 2) or vector(0)",
            "short",
            [green, {"color": "red", "value": 1}],
        ),
        timeseries(
            "Requests / s by surface",
            "Operations per second, by surface (`none`: operations that built no page, "
            "e.g. introspection or a rejected query).",
            [target(f"sum by (surface) (rate({requests}{RATE}))", "{{surface}}")],
            unit="reqps",
        ),
        timeseries(
            "Degraded, error and client-error share by surface",
            "Share of each surface's operations per non-ok outcome: degraded (a fallback "
            "after a failure), error (a bug), client_error (bad input, not our problem).",
            [
                target(
                    f"sum by (surface, outcome) ({rate(requests_not_ok)})"
                    f" / on (surface) group_left sum by (surface) (rate({requests}{RATE}))",
                    "{{surface}} {{outcome}}",
                )
            ],
            unit="percentunit",
        ),
        timeseries(
            "Deadline exceeded / s by surface",
            "Pages whose deadline had passed when they were assembled: the page was cut to "
            "its budget and used what had arrived. Rising with flat traffic = a slow backend "
            "or a saturated gateway.",
            [
                target(
                    f"sum by (surface) (rate(pgw_deadline_exceeded_total{{{SURFACE}}}{RATE}))",
                    "{{surface}}",
                )
            ],
            unit="reqps",
        ),
    ]

    out.append(row("Latency vs budget"))
    out += [latency_panel(name, budget) for name, budget in surfaces().items()]

    out.append(row("Content sources (fallbacks)"))
    out += [
        timeseries(
            "Fallback share per section (not PERSONALISED)",
            "Share of each section served from anything but PERSONALISED. popular_near_you "
            "and popular_items are POPULAR by design (100 % here is normal); for the others "
            "a rise means retrieval or ranking is failing.",
            [
                target(
                    f"sum by (surface, section) ({rate(sections_fallback)})"
                    f" / sum by (surface, section) (rate({sections}{RATE}))",
                    "{{surface}}/{{section}}",
                )
            ],
            unit="percentunit",
            max_value=1,
        ),
        timeseries(
            "Source mix",
            "Sections per second by source, all selected surfaces. CANDIDATE_ORDER = ranking "
            "down; POPULAR = retrieval down; STALE = cached or last-good content; DEFAULT = "
            "nothing was available.",
            [
                target(
                    f"sum by (source) (rate({sections}{RATE}))",
                    "{{source}}",
                )
            ],
            unit="short",
            stack="percent",
        ),
    ]

    out.append(row("Backends"))
    out += [
        timeseries(
            "Backend p99 latency",
            "p99 of backend calls as the gateway saw them (cache hits included, so a high hit "
            "ratio pulls this down). Compare with PGW_<BACKEND>__TIMEOUT_S.",
            [
                target(
                    f"histogram_quantile(0.99, sum by (le, backend) ({rate(backend_buckets)}))",
                    "{{backend}}",
                )
            ],
            unit="s",
        ),
        timeseries(
            "Backend p99 latency by endpoint",
            "The same, per endpoint.",
            [
                target(
                    "histogram_quantile(0.99, sum by (le, backend, endpoint) "
                    f"({rate(backend_buckets)}))",
                    "{{backend}} {{endpoint}}",
                )
            ],
            unit="s",
        ),
        timeseries(
            "Backend outcomes / s",
            "Calls per second by backend and outcome: ok, timeout, error, malformed (body "
            "failed the contract), circuit_open (failed fast, breaker open), rejected (4xx).",
            [
                target(
                    f"sum by (backend, outcome) (rate({backend_calls}{RATE}))",
                    "{{backend}} {{outcome}}",
                )
            ],
            unit="reqps",
            stack="normal",
        ),
        timeseries(
            "Backend failure share",
            "Share of each backend's calls that did not end ok. The breaker opens at 50 % of "
            "the last 20 calls (at least 10) or 5 failures in a row (per worker).",
            [
                target(
                    f"sum by (backend) ({rate(backend_failed)})"
                    f" / sum by (backend) (rate({backend_calls}{RATE}))",
                    "{{backend}}",
                )
            ],
            unit="percentunit",
            max_value=1,
        ),
        {
            "type": "state-timeline",
            "title": "Circuit breaker state",
            "description": "Worst state over the workers of all pods, per backend.",
            "datasource": DS,
            "targets": [
                target(f"max by (backend) (pgw_circuit_state{{{BACKEND}}})", "{{backend}}")
            ],
            "fieldConfig": {
                "defaults": {
                    "mappings": [
                        {
                            "type": "value",
                            "options": {
                                "0": {"text": "closed", "color": "green", "index": 0},
                                "1": {"text": "half-open", "color": "yellow", "index": 1},
                                "2": {"text": "open", "color": "red", "index": 2},
                            },
                        }
                    ],
                    "thresholds": {"mode": "absolute", "steps": [green]},
                    "color": {"mode": "thresholds"},
                },
                "overrides": [],
            },
            "options": {"showValue": "never", "mergeValues": True, "rowHeight": 0.8},
        },
        timeseries(
            "Retries / s",
            "Retried attempts per backend (idempotent calls only, on connect errors, 429 and "
            "503, only while the deadline allows).",
            [
                target(
                    f"sum by (backend) (rate(pgw_backend_retries_total{{{BACKEND}}}{RATE}))",
                    "{{backend}}",
                )
            ],
            unit="reqps",
        ),
    ]

    out.append(row("Cache"))
    out += [
        timeseries(
            "Cache hit ratio",
            "Fresh hits over all lookups, per backend cache. A drop "
            "across the board: Redis is down or was flushed (each worker then caches "
            "nothing shared).",
            [
                target(
                    f"sum by (cache) ({rate(cache_hits)}) / sum by (cache) (rate({cache}{RATE}))",
                    "{{cache}}",
                )
            ],
            unit="percentunit",
            max_value=1,
        ),
        timeseries(
            "Cache lookups / s by result",
            "hit (fresh), miss, stale (an expired entry served because the backend failed).",
            [
                target(
                    f"sum by (cache, result) (rate({cache}{RATE}))",
                    "{{cache}} {{result}}",
                )
            ],
            unit="reqps",
            stack="normal",
        ),
        timeseries(
            "Page cache hit ratio",
            "Pages whose built sections were reused (a refresh by the same viewer in the same "
            "situation within PGW_PAGE_CACHE_TTL_S; decision 0011) over pages built or reused. "
            "Degraded pages are never kept, so an outage lowers it.",
            [
                target(
                    f'sum by (surface) (rate(pgw_page_cache_total{{{SURFACE}, result="hit"}}'
                    f"{RATE})) / sum by (surface) (rate(pgw_page_cache_total{{{SURFACE}}}{RATE}))",
                    "{{surface}}",
                )
            ],
            unit="percentunit",
            max_value=1,
        ),
        timeseries(
            "Garbage collector: longest pauses by generation",
            "p99 of the cyclic collector's pauses per generation (decision 0013); no request "
            "of a worker moves during one. Generation 2 (full collections) should be rare; "
            "a request p99 that rises with it is the collector, not a backend.",
            [
                target(
                    "histogram_quantile(0.99, sum by (generation, le) "
                    f"(rate(pgw_gc_pause_seconds_bucket{RATE})))",
                    "gen {{generation}} p99",
                ),
            ],
            unit="s",
        ),
        row("Refusals and events"),
        timeseries(
            "Refused before execution",
            "Requests turned away before any GraphQL work (decision 0017): 401 bad tokens, "
            "413 bodies over the limit, 429 rate limits, refused persisted queries. A rise "
            "without a rise in traffic is a misbehaving client or an attack.",
            [
                target(
                    f"sum by (status, code) ({rate('pgw_http_refusals_total')})",
                    "{{status}} {{code}}",
                )
            ],
            unit="reqps",
            stack="normal",
        ),
        timeseries(
            "Events outbox and dropped decisions",
            "Rewards waiting in the outbox for the bandit (lag: the loop learns late), and "
            "decision lines the gateway could not write to the durable stream in time "
            "(lost for off-policy evaluation; should stay at zero).",
            [
                target("sum(pgw_events_outbox_pending)", "outbox pending"),
                target(
                    f"sum({rate('pgw_decisions_dropped_total')})",
                    "decisions dropped / s",
                    ref="B",
                ),
            ],
        ),
    ]
    return _layout(out)


def _layout(items: list[Panel]) -> list[Panel]:
    """Ids and grid positions: rows full width; stats 6 wide; other panels 12 wide."""
    y = 0
    x = 0
    row_h = 0
    for pid, panel in enumerate(items, start=1):
        panel["id"] = pid
        if panel["type"] == "row":
            if x:
                y += row_h
            panel["gridPos"] = {"h": 1, "w": 24, "x": 0, "y": y}
            y += 1
            x, row_h = 0, 0
            continue
        w, h = (6, 4) if panel["type"] == "stat" else (12, 8)
        if x + w > 24:
            y += row_h
            x, row_h = 0, 0
        panel["gridPos"] = {"h": h, "w": w, "x": x, "y": y}
        x += w
        row_h = max(row_h, h)
    return items


def dashboard() -> dict[str, Any]:
    def query_var(name: str, label: str, metric: str) -> dict[str, Any]:
        query = f"label_values({metric}, {label})"
        return {
            "name": name,
            "label": label,
            "type": "query",
            "datasource": DS,
            "query": {"query": query, "refId": f"{name}-var"},
            "definition": query,
            "refresh": 2,
            "includeAll": True,
            "multi": True,
            "allValue": ".*",
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "sort": 1,
        }

    return {
        "uid": "pgw-gateway",
        "title": "Personalisation gateway",
        "description": "Traffic, latency vs budget, fallbacks, backends, breakers and cache "
        "of the GraphQL personalisation gateway. See docs/operations.md.",
        "tags": ["personalisation", "gateway", "graphql"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-3h", "to": "now"},
        "timepicker": {},
        "annotations": {"list": []},
        "links": [],
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Data source",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                    "refresh": 1,
                },
                query_var("surface", "surface", "pgw_graphql_requests_total"),
                query_var("backend", "backend", "pgw_backend_requests_total"),
            ]
        },
        "panels": panels(),
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
        if current != text:
            print(f"{OUT} is out of date: python {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
