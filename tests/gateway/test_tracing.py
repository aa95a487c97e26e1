"""Spans per operation, section and backend call, and the trace carried to the backends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

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
    [operation] = _by_name(finished, "graphql")
    assert operation.name == "graphql other"  # not a shipped operation: a bounded name
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

    # the backends saw the trace: each request carries the traceparent of its call's span
    seen = [r["headers"].get("traceparent") for r in gateway.fakes.requests["retrieval"]]
    assert seen == [f"00-{retrieval.context.trace_id:032x}-{retrieval.context.span_id:016x}-01"]
    ranking_seen = {r["headers"]["traceparent"] for r in gateway.fakes.requests["ranking"]}
    assert ranking_seen == {f"00-{rank.context.trace_id:032x}-{rank.context.span_id:016x}-01"}


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
