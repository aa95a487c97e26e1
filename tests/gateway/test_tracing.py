"""Spans per operation, section and backend call, and the trace carried to the backends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from tests.gateway.conftest import HELSINKI, Gateway
from tests.tracing_support import in_memory_spans

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
CATEGORY = (
    'query Category($loc: LocationInput!) { category(slug: "pizza", location: $loc, '
    "first: 5) { degraded source } }"
)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = in_memory_spans()
    yield exporter
    exporter.clear()


def _by_name(finished: tuple[ReadableSpan, ...], prefix: str) -> list[ReadableSpan]:
    return [s for s in finished if s.name.startswith(prefix)]


async def test_spans_follow_the_request_and_reach_the_backends(
    gateway: Gateway, spans: InMemorySpanExporter
) -> None:
    gateway.fakes.fail("ranking", "500", status=503)
    await gateway.query(
        CATEGORY, {"loc": HELSINKI}, user="u0001", headers={"traceparent": TRACEPARENT}
    )
    finished = spans.get_finished_spans()
    [operation] = _by_name(finished, "query ")
    # OpenTelemetry's GraphQL conventions; not a shipped operation: a bounded name
    assert operation.name == "query other"
    assert operation.kind is SpanKind.SERVER
    assert operation.attributes["graphql.operation.type"] == "query"
    assert operation.attributes["graphql.operation.name"] == "other"
    assert format(operation.context.trace_id, "032x") == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert operation.parent is not None
    assert operation.parent.span_id == 0x00F067AA0BA902B7
    assert operation.attributes["pgw.surface"] == "category"
    assert operation.attributes["pgw.degraded"] is True

    [section] = _by_name(finished, "section ")
    assert section.attributes["pgw.source"] == "CANDIDATE_ORDER"
    assert section.parent is not None
    assert section.parent.span_id == operation.context.span_id

    [rank] = _by_name(finished, "ranking rank")
    assert rank.name == "ranking rank:batch"
    assert rank.attributes["pgw.outcome"] == "error"
    assert rank.attributes["pgw.retries"] == 1  # 503 is retried once
    # the batch call itself is not cached: its requests are, each under its own key
    assert rank.attributes["pgw.cache"] == "bypass"
    [retrieval] = _by_name(finished, "retrieval candidates")
    assert retrieval.attributes["pgw.outcome"] == "ok"
    for span in (rank, retrieval):
        assert span.context.trace_id == operation.context.trace_id

    # each HTTP attempt is a client span (OpenTelemetry's HTTP conventions) under its call
    def attempts(call: ReadableSpan) -> list[ReadableSpan]:
        return [
            s
            for s in finished
            if s.parent is not None
            and s.parent.span_id == call.context.span_id
            and s.kind is SpanKind.CLIENT
        ]

    [fetch] = attempts(retrieval)
    assert fetch.name == fetch.attributes["http.request.method"]
    assert fetch.attributes["server.address"] == "retrieval.test"
    assert str(fetch.attributes["url.full"]).startswith("http://retrieval.test/")
    assert fetch.attributes["http.response.status_code"] == 200
    ranked = attempts(rank)
    assert [a.attributes["http.response.status_code"] for a in ranked] == [503, 503]
    assert all(a.attributes["error.type"] == "503" for a in ranked)
    assert retrieval.kind is rank.kind is SpanKind.INTERNAL

    # the backends saw the trace: each request carries the traceparent of its attempt's span
    seen = [r["headers"].get("traceparent") for r in gateway.fakes.requests["retrieval"]]
    assert seen == [f"00-{fetch.context.trace_id:032x}-{fetch.context.span_id:016x}-01"]
    ranking_seen = {r["headers"]["traceparent"] for r in gateway.fakes.requests["ranking"]}
    assert ranking_seen == {
        f"00-{a.context.trace_id:032x}-{a.context.span_id:016x}-01" for a in ranked
    }


async def test_without_a_tracer_provider_the_operation_makes_no_span(
    gateway: Gateway, spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API's default provider hands out no-op spans only; the operation then skips
    spans and context altogether (they cost ~7 % of a page-cache hit)."""
    from opentelemetry import trace

    from gateway.tracing import tracing_active

    assert tracing_active()  # the in-memory provider of this test process
    monkeypatch.setattr(trace, "get_tracer_provider", trace.ProxyTracerProvider)
    assert not tracing_active()
    response = await gateway.query(
        CATEGORY, {"loc": HELSINKI}, user="u0001", headers={"traceparent": TRACEPARENT}
    )
    assert response.json()["data"]["category"]["degraded"] is False
    assert not _by_name(spans.get_finished_spans(), "graphql")
