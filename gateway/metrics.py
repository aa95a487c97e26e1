"""Prometheus metrics (``pgw_*``), correct with several uvicorn workers.

With ``PROMETHEUS_MULTIPROC_DIR`` set (as the Kubernetes manifests do), prometheus-client
writes each worker's samples to memory-mapped files there and ``/metrics`` aggregates all
workers; without it, the process's own registry is served. The directory must be empty when
the first worker starts (an ``emptyDir`` in Kubernetes).

Backend metrics arrive through the clients' ``CallObserver`` hook; request and section
metrics from the ``RequestMetrics`` extension, which reads the request's report
(``resolvers.RequestReport``) the resolvers fill in.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from graphql import GraphQLError
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.multiprocess import MultiProcessCollector
from strawberry.extensions import SchemaExtension

from clients.breaker import BreakerState
from clients.errors import CallOutcome
from clients.results import CacheResult
from gateway.operation_names import telemetry_name
from resolvers import RequestReport
from schema import gateway_context, operation_errors

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.5, 1.0, 2.5)

GRAPHQL_REQUESTS = Counter(
    "pgw_graphql_requests_total",
    "GraphQL operations by outcome (ok, degraded, client_error, error).",
    ["operation", "surface", "outcome"],
)
GRAPHQL_DURATION = Histogram(
    "pgw_graphql_request_duration_seconds",
    "Time to execute a GraphQL operation, from parse to result.",
    ["operation", "surface"],
    buckets=LATENCY_BUCKETS,
)
PAGE_CACHE = Counter(
    "pgw_page_cache_total",
    "Page builds by page-cache result (hit: built sections reused; miss: built and kept "
    "unless degraded).",
    ["surface", "result"],
)
BACKEND_REQUESTS = Counter(
    "pgw_backend_requests_total",
    "Backend calls by outcome (ok, timeout, error, malformed, circuit_open, rejected).",
    ["backend", "endpoint", "outcome"],
)
BACKEND_DURATION = Histogram(
    "pgw_backend_request_duration_seconds",
    "Backend call latency as the gateway saw it, cache hits included.",
    ["backend", "endpoint"],
    buckets=LATENCY_BUCKETS,
)
GC_PAUSE = Histogram(
    "pgw_gc_pause_seconds",
    "Cyclic garbage collector pauses by generation; no request moves during one "
    "(gateway/collector, decision 0013).",
    ["generation"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5),
)
BACKEND_RETRIES = Counter("pgw_backend_retries_total", "Retried backend attempts.", ["backend"])
CIRCUIT_STATE = Gauge(
    "pgw_circuit_state",
    "Circuit breaker state per backend: 0 closed, 1 half-open, 2 open.",
    ["backend"],
    multiprocess_mode="livemax",
)
SECTION_SOURCE = Counter(
    "pgw_section_source_total",
    "Sections served, by where their content came from (the fallback rate).",
    ["surface", "section", "source"],
)
CACHE_REQUESTS = Counter(
    "pgw_cache_requests_total",
    "Response cache lookups by result (hit, miss, stale).",
    ["cache", "result"],
)
DEADLINE_EXCEEDED = Counter(
    "pgw_deadline_exceeded_total",
    "Pages whose deadline had passed by the time they were assembled.",
    ["surface"],
)

HTTP_REFUSALS = Counter(
    "pgw_http_refusals_total",
    "Requests refused before GraphQL execution (401 auth, 413 body size, 429 rate limit, "
    "persisted-query refusals, malformed HTTP), by status and code.",
    ["status", "code"],
)

OUTBOX_PENDING = Gauge(
    "pgw_events_outbox_pending",
    "Rewards accepted but not yet delivered to the bandit (the outbox's lag).",
    multiprocess_mode="livemax",
)
DECISIONS_DROPPED = Counter(
    "pgw_decisions_dropped_total",
    "Decision-log lines dropped (writer behind, or the store failed): lost for evaluation.",
)

_CACHE_RESULTS = {CacheResult.HIT: "hit", CacheResult.MISS: "miss", CacheResult.STALE: "stale"}


class PrometheusObserver:
    """The clients' ``CallObserver``: one counter increment and one observation per call.

    The labelled children are looked up once per (backend, endpoint, outcome, cache) and
    kept: ``labels()`` validates and locks on every call, and a page makes a dozen calls.
    """

    def __init__(self) -> None:
        self._children: dict[tuple[str, str, str, CacheResult], tuple[Any, Any, Any | None]] = {}

    def on_call(
        self,
        backend: str,
        endpoint: str,
        outcome: CallOutcome,
        duration_s: float,
        cache: CacheResult,
        attempts: int,
    ) -> None:
        key = (backend, endpoint, outcome, cache)
        children = self._children.get(key)
        if children is None:
            result = _CACHE_RESULTS.get(cache)
            children = self._children[key] = (
                BACKEND_REQUESTS.labels(backend, endpoint, outcome),
                BACKEND_DURATION.labels(backend, endpoint),
                None if result is None else CACHE_REQUESTS.labels(backend, result),
            )
        requests, duration, cached = children
        requests.inc()
        duration.observe(duration_s)
        if cached is not None:
            cached.inc()

    def on_retry(self, backend: str, endpoint: str) -> None:
        BACKEND_RETRIES.labels(backend).inc()

    def on_breaker_state(self, backend: str, state: BreakerState) -> None:
        CIRCUIT_STATE.labels(backend).set(int(state))


def _outcome(errors: Sequence[GraphQLError], degraded: bool) -> str:
    codes = {(e.extensions or {}).get("code") for e in errors}
    if "INTERNAL_SERVER_ERROR" in codes:
        return "error"
    if errors:
        return "client_error"
    return "degraded" if degraded else "ok"


class RequestMetrics(SchemaExtension):
    """Counts and times each operation, and records every section's source."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = gateway_context(self.execution_context)
        report = context.report if context is not None else RequestReport()
        surface = report.surface
        operation = telemetry_name(self.execution_context.operation_name)  # bounded labels
        GRAPHQL_DURATION.labels(operation, surface).observe(time.perf_counter() - started)
        outcome = _outcome(operation_errors(self.execution_context), report.degraded)
        GRAPHQL_REQUESTS.labels(operation, surface, outcome).inc()
        for trace in report.pages:
            for section, source in trace.sources.items():
                SECTION_SOURCE.labels(trace.surface, section, source).inc()
            if trace.deadline_exceeded:
                DEADLINE_EXCEEDED.labels(trace.surface).inc()
            if trace.page_cache != "off":
                PAGE_CACHE.labels(trace.surface, trace.page_cache).inc()


def reset_multiprocess_dir() -> None:
    """Empty ``PROMETHEUS_MULTIPROC_DIR`` before the workers start (``serve`` calls this).

    Files left by an earlier run of the container would otherwise be added to this run's
    counters and keep a dead worker's gauges alive.
    """
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink(missing_ok=True)


def mark_worker_dead() -> None:
    """Drop this worker's live gauges from the aggregate (at worker shutdown)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def render_metrics() -> tuple[bytes, str]:
    """The exposition for ``/metrics``, aggregated over workers in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def serve_metrics(host: str, port: int) -> None:
    """``/metrics`` on its own port (``PGW_METRICS_PORT``), from the serving process (the
    supervisor with several workers), so the API port never exposes it. Each scrape reads
    the multiprocess directory when there is one (``render_metrics``)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404)
                return
            body, content_type = render_metrics()
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # scrapes are not news
            return

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="pgw-metrics", daemon=True).start()


def observe_gc_pause(generation: int, seconds: float) -> None:
    """Record one collection's pause (``gateway.collector.report_pauses``)."""
    GC_PAUSE.labels(str(generation)).observe(seconds)
