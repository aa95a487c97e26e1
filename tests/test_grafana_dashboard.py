"""The Grafana dashboard (``deploy/grafana/gateway-dashboard.json``) against the metrics.

- It is a well-formed dashboard: uid, title, a Prometheus data-source variable that every
  panel and query uses, panels with unique ids on the 24-column grid, each with queries.
- Every query parses as PromQL (``promql-parser``), and every metric it names — found with a
  regex over the text and from the parsed selectors — is one the gateway exports, with labels
  and label values it really has. Renaming a metric or a label on either side fails here.
- The latency panels draw each surface's budget from ``gateway/data/plans.yaml``.
- The JSON is what ``deploy/grafana/generate.py`` produces.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import promql_parser
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "deploy" / "grafana" / "gateway-dashboard.json"
GENERATOR = ROOT / "deploy" / "grafana" / "generate.py"
PLANS = ROOT / "gateway" / "data" / "plans.yaml"

# The gateway's metrics: name → (type, labels). The contract the dashboard is written against.
METRICS: dict[str, tuple[str, frozenset[str]]] = {
    "pgw_graphql_requests_total": ("counter", frozenset({"operation", "surface", "outcome"})),
    "pgw_graphql_request_duration_seconds": ("histogram", frozenset({"operation", "surface"})),
    "pgw_backend_requests_total": ("counter", frozenset({"backend", "endpoint", "outcome"})),
    "pgw_backend_request_duration_seconds": ("histogram", frozenset({"backend", "endpoint"})),
    "pgw_backend_retries_total": ("counter", frozenset({"backend"})),
    "pgw_circuit_state": ("gauge", frozenset({"backend"})),
    "pgw_section_source_total": ("counter", frozenset({"surface", "section", "source"})),
    "pgw_cache_requests_total": ("counter", frozenset({"cache", "result"})),
    "pgw_deadline_exceeded_total": ("counter", frozenset({"surface"})),
    "pgw_page_cache_total": ("counter", frozenset({"surface", "result"})),
    "pgw_gc_pause_seconds": ("histogram", frozenset({"generation"})),
    "pgw_http_refusals_total": ("counter", frozenset({"status", "code"})),
    "pgw_events_outbox_pending": ("gauge", frozenset()),
    "pgw_decisions_dropped_total": ("counter", frozenset()),
}
# Labels whose values are a closed set.
LABEL_VALUES: dict[str, dict[str, frozenset[str]]] = {
    "pgw_graphql_requests_total": {
        "outcome": frozenset({"ok", "degraded", "client_error", "error"})
    },
    "pgw_backend_requests_total": {
        "outcome": frozenset({"ok", "timeout", "error", "malformed", "circuit_open", "rejected"})
    },
    "pgw_section_source_total": {
        "source": frozenset({"PERSONALISED", "CANDIDATE_ORDER", "POPULAR", "STALE", "DEFAULT"})
    },
    "pgw_cache_requests_total": {"result": frozenset({"hit", "miss", "stale"})},
    "pgw_page_cache_total": {"result": frozenset({"hit", "miss"})},
}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
METRIC_NAME = re.compile(r"\bpgw_[a-zA-Z0-9_]+")
GRAFANA_DURATIONS = re.compile(
    r"\$__(rate_interval|interval|range)\b|\$\{__(rate_interval|interval|range)\}"
)
DATASOURCE_UIDS = {"${datasource}", "$datasource"}

Doc = dict[str, Any]


def load() -> Doc:
    doc: Doc = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return doc


def panels(doc: Doc) -> list[Doc]:
    """Every panel, rows' nested panels included."""
    out = []
    for panel in doc.get("panels") or []:
        out.append(panel)
        out += panel.get("panels") or []
    return out


def queries(doc: Doc) -> list[tuple[str, str]]:
    """(panel title, expr) for every query."""
    return [
        (p.get("title", "?"), t.get("expr", ""))
        for p in panels(doc)
        for t in p.get("targets") or []
    ]


def base_metric(name: str) -> tuple[str | None, bool]:
    """The exported metric a series name belongs to, and whether it is a ``_bucket``."""
    if name in METRICS:
        return name, False
    for suffix in HISTOGRAM_SUFFIXES:
        base = name.removesuffix(suffix)
        if name.endswith(suffix) and METRICS.get(base, ("",))[0] == "histogram":
            return base, suffix == "_bucket"
    return None, False


def expr_problems(where: str, expr: str) -> list[str]:
    problems = []
    for name in METRIC_NAME.findall(expr):
        if base_metric(name)[0] is None:
            problems.append(f"{where}: unknown metric {name}")
    try:
        ast = promql_parser.parse(GRAFANA_DURATIONS.sub("5m", expr))
    except ValueError as exc:
        return [*problems, f"{where}: PromQL does not parse: {exc}"]

    selectors: list[Any] = []
    groupings: list[list[str]] = []

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            selectors.append(node)
        elif isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
            groupings.append(list(node.modifier.labels))
        elif isinstance(node, promql_parser.BinaryExpr) and node.modifier is not None:
            matching = node.modifier.matching
            if matching is not None:
                groupings.append(list(matching.labels))
            groupings.append(list(node.modifier.group_labels or []))
        return True

    promql_parser.walk(ast, visit)
    available: set[str] = set()
    for sel in selectors:
        metric, bucket = base_metric(sel.name or "")
        if metric is None:
            problems.append(f"{where}: selector {sel.name!r} is not an exported metric")
            continue
        labels = METRICS[metric][1] | ({"le"} if bucket else set())
        available |= labels
        for matcher in sel.matchers.matchers:
            if matcher.name not in labels:
                problems.append(f"{where}: {metric} has no label {matcher.name!r}")
                continue
            allowed = LABEL_VALUES.get(metric, {}).get(matcher.name)
            if allowed is None or "$" in matcher.value:
                continue
            values = (
                matcher.value.split("|")
                if matcher.op in (promql_parser.MatchOp.Re, promql_parser.MatchOp.NotRe)
                else [matcher.value]
            )
            for value in values:
                if value not in allowed:
                    problems.append(f"{where}: {metric}{{{matcher.name}}} has no value {value!r}")
    for labels in groupings:
        for label in labels:
            if label not in available:
                problems.append(f"{where}: grouping by {label!r}, which no selector has")
    return problems


def dashboard_problems(doc: Doc) -> list[str]:
    """What makes the dashboard invalid or out of step with the metrics (empty when fine)."""
    problems: list[str] = []
    for key in ("uid", "title"):
        if not isinstance(doc.get(key), str) or not doc[key]:
            problems.append(f"no {key}")
    if not isinstance(doc.get("schemaVersion"), int):
        problems.append("no schemaVersion")

    variables = (doc.get("templating") or {}).get("list") or []
    if not any(
        v.get("type") == "datasource" and v.get("query") == "prometheus" and v.get("name")
        for v in variables
    ):
        problems.append("no Prometheus data-source variable")
    for var in variables:
        if var.get("type") != "query":
            continue
        query = var.get("query")
        text = query.get("query", "") if isinstance(query, dict) else str(query or "")
        match = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", text)
        if match is None:
            problems.append(f"variable {var.get('name')}: unsupported query {text!r}")
            continue
        metric, label = match.groups()
        if metric not in METRICS or label not in METRICS[metric][1]:
            problems.append(f"variable {var.get('name')}: {metric} has no label {label}")
        if (var.get("datasource") or {}).get("uid") not in DATASOURCE_UIDS:
            problems.append(f"variable {var.get('name')}: not on the data-source variable")

    all_panels = panels(doc)
    if not [p for p in all_panels if p.get("type") != "row"]:
        problems.append("no panels")
    ids = [p.get("id") for p in all_panels]
    if len(set(ids)) != len(ids) or None in ids:
        problems.append("panel ids missing or not unique")
    for panel in all_panels:
        where = f"panel {panel.get('title')!r}"
        grid = panel.get("gridPos") or {}
        if not {"x", "y", "w", "h"} <= set(grid) or grid["x"] + grid["w"] > 24:
            problems.append(f"{where}: bad gridPos {grid}")
        if panel.get("type") == "row":
            continue
        if not panel.get("title"):
            problems.append(f"panel {panel.get('id')}: no title")
        targets = panel.get("targets") or []
        if not targets:
            problems.append(f"{where}: no targets")
        if (panel.get("datasource") or {}).get("uid") not in DATASOURCE_UIDS:
            problems.append(f"{where}: not on the data-source variable")
        refs = [t.get("refId") for t in targets]
        if len(set(refs)) != len(refs):
            problems.append(f"{where}: duplicate refIds")
        for t in targets:
            if (t.get("datasource") or {}).get("uid") not in DATASOURCE_UIDS:
                problems.append(f"{where}: a target is not on the data-source variable")
            if not t.get("expr"):
                problems.append(f"{where}: a target has no expr")
            else:
                problems += expr_problems(where, t["expr"])

    used = {base_metric(n)[0] for _, e in queries(doc) for n in METRIC_NAME.findall(e)}
    for metric in sorted(set(METRICS) - used):
        problems.append(f"{metric} is on no panel")
    problems += budget_problems(doc)
    return problems


def budget_problems(doc: Doc) -> list[str]:
    """Each surface has a p50/p95/p99 panel with its plans.yaml budget as a threshold."""
    plans = yaml.safe_load(PLANS.read_text(encoding="utf-8"))
    problems = []
    for surface, plan in plans["surfaces"].items():
        budget_s = plan["budget_ms"] / 1000
        selector = f'pgw_graphql_request_duration_seconds_bucket{{surface="{surface}"}}'
        found = [
            p
            for p in panels(doc)
            if any(selector in t.get("expr", "") for t in p.get("targets") or [])
        ]
        if len(found) != 1:
            problems.append(f"{surface}: {len(found)} latency panels")
            continue
        panel = found[0]
        exprs = " ".join(t.get("expr", "") for t in panel["targets"])
        for q in ("0.5", "0.95", "0.99"):
            if f"histogram_quantile({q}," not in exprs:
                problems.append(f"{surface}: no p{q} on the latency panel")
        defaults = panel.get("fieldConfig", {}).get("defaults", {})
        steps = defaults.get("thresholds", {}).get("steps", [])
        if budget_s not in [s.get("value") for s in steps]:
            problems.append(f"{surface}: no threshold at the {plan['budget_ms']} ms budget")
        if defaults.get("custom", {}).get("thresholdsStyle", {}).get("mode") in (None, "off"):
            problems.append(f"{surface}: the budget threshold is not drawn")
        if defaults.get("unit") != "s":
            problems.append(f"{surface}: latency panel not in seconds")
    return problems


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pgw_dashboard_generator", GENERATOR)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- the real dashboard


def test_dashboard_is_valid_and_uses_only_exported_metrics() -> None:
    assert dashboard_problems(load()) == []


def test_dashboard_is_what_the_generator_produces() -> None:
    assert DASHBOARD.read_text(encoding="utf-8") == generator().render(), (
        "deploy/grafana/gateway-dashboard.json is stale: python deploy/grafana/generate.py"
    )


def test_metric_list_matches_what_the_gateway_exports() -> None:
    """The same contract from the other side: gateway/metrics.py defines these metrics."""
    from prometheus_client.metrics import MetricWrapperBase

    import gateway.metrics

    exported = {}
    for value in vars(gateway.metrics).values():
        if isinstance(value, MetricWrapperBase):
            name = value._name + ("_total" if value._type == "counter" else "")
            exported[name] = (value._type, frozenset(value._labelnames))
    assert exported == METRICS


def test_every_required_panel_is_there() -> None:
    exprs = " ".join(e for _, e in queries(load()))
    for needle in (
        "pgw_graphql_requests_total",  # request rate
        'outcome!="ok"',  # error / degraded share
        'source!="PERSONALISED"',  # fallback share per section
        "histogram_quantile(0.99, sum by (le, backend)",  # backend p99
        "sum by (backend, outcome)",  # backend outcome breakdown
        "pgw_circuit_state",
        "pgw_backend_retries_total",
        'result="hit"',  # cache hit ratio
        "pgw_deadline_exceeded_total",
    ):
        assert needle in exprs, needle
    state = [p for p in panels(load()) if p.get("type") == "state-timeline"]
    mappings = state[0]["fieldConfig"]["defaults"]["mappings"][0]["options"]
    assert {k: v["text"] for k, v in mappings.items()} == {
        "0": "closed",
        "1": "half-open",
        "2": "open",
    }


# ---------------------------------------------------------------- the checks can fail


def _edit_expr(needle: str, old: str, new: str) -> Callable[[Doc], None]:
    def edit(doc: Doc) -> None:
        for panel in panels(doc):
            for t in panel.get("targets") or []:
                if needle in t.get("expr", ""):
                    t["expr"] = t["expr"].replace(old, new)
                    return
        raise AssertionError(needle)

    return edit


def _drop_datasource_var(doc: Doc) -> None:
    doc["templating"]["list"] = [
        v for v in doc["templating"]["list"] if v.get("type") != "datasource"
    ]


def _change_budget(doc: Doc) -> None:
    for panel in panels(doc):
        for step in (
            panel.get("fieldConfig", {}).get("defaults", {}).get("thresholds", {}).get("steps", [])
        ):
            if step.get("value") == 0.3:
                step["value"] = 0.5


def _no_targets(doc: Doc) -> None:
    next(p for p in panels(doc) if p.get("type") == "timeseries")["targets"] = []


BREAKS: dict[str, Callable[[Doc], None]] = {
    "renamed-metric": _edit_expr("pgw_backend_retries_total", "retries_total", "retry_total"),
    "renamed-histogram": _edit_expr(
        "pgw_backend_request_duration_seconds", "duration_seconds_bucket", "latency_bucket"
    ),
    "not-a-histogram": _edit_expr(
        "pgw_circuit_state", "pgw_circuit_state", "pgw_circuit_state_bucket"
    ),
    "unknown-matcher-label": _edit_expr("pgw_backend_retries_total", "{backend=", "{service="),
    "unknown-grouping-label": _edit_expr(
        "sum by (surface) (rate(pgw_deadline", "by (surface)", "by (page)"
    ),
    "bad-outcome-value": _edit_expr('outcome="degraded"', '"degraded"', '"fallback"'),
    "bad-source-value": _edit_expr("PERSONALISED", "PERSONALISED", "PERSONALIZED"),
    "syntax-error": _edit_expr("pgw_deadline_exceeded_total", "sum by", "sum by ("),
    "no-datasource-variable": _drop_datasource_var,
    "budget-drift": _change_budget,
    "panel-without-targets": _no_targets,
    "no-uid": lambda d: d.pop("uid"),
    "variable-unknown-label": lambda d: d["templating"]["list"][1]["query"].update(
        query="label_values(pgw_graphql_requests_total, page)"
    ),
}


@pytest.mark.parametrize("case", sorted(BREAKS))
def test_dashboard_checks_catch_breakage(case: str) -> None:
    doc = copy.deepcopy(load())
    BREAKS[case](doc)
    assert dashboard_problems(doc), f"{case} passed the checks"


def test_regex_alone_catches_a_renamed_metric_in_any_text() -> None:
    assert expr_problems("x", "sum(rate(pgw_graphql_request_total[5m]))")
    assert expr_problems("x", 'max(pgw_circuit_state{backend="a"}) or pgw_breaker_state')
    assert not expr_problems("x", 'max by (backend) (pgw_circuit_state{backend="a"})')
