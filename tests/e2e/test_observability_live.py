"""One backend failing against the real reference backends: the fallback shows in /metrics,
in the spans, in the logs, and the backend saw the gateway's trace."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from gateway.app import create_app
from gateway.auth import mint_token
from gateway.settings import Settings
from tests.live import LiveStack
from tests.tracing_support import in_memory_spans

pytestmark = pytest.mark.e2e

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"
DISCOVERY = (
    "query Home($loc: LocationInput!) { discovery(location: $loc) "
    "{ degraded sections { id source } } }"
)


def _metric(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


async def test_a_failing_backend_is_visible_everywhere(live: LiveStack) -> None:
    spans = in_memory_spans()
    settings = Settings(
        environment="test",
        debug=True,
        jwt_secret=live.secret,
        reference_refresh_s=None,
        **{name: {"base_url": url} for name, url in live.backend_urls.items()},
    )
    app = create_app(settings)
    headers = {
        "Authorization": f"Bearer {mint_token('u0777', live.secret)}",
        "traceparent": TRACEPARENT,
    }
    live.set_fault("ranking", error_rate=1.0)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
                before = (await client.get("/metrics")).text
                with capture_logs() as logs:
                    response = await client.post(
                        "/graphql",
                        json={
                            "query": DISCOVERY,
                            "variables": {"loc": {"lat": 60.17, "lon": 24.94}},
                        },
                        headers=headers,
                    )
                after = (await client.get("/metrics")).text
    finally:
        live.clear_faults()

    page = response.json()["data"]["discovery"]
    assert page["degraded"] is True
    sources = {s["id"]: s["source"] for s in page["sections"]}
    assert sources["for_you"] == "CANDIDATE_ORDER"

    # metrics: the outcome label and the section's fallback
    def delta(name: str, **labels: str) -> float:
        return _metric(after, name, **labels) - _metric(before, name, **labels)

    assert (
        delta("pgw_backend_requests_total", backend="ranking", endpoint="rank", outcome="error")
        >= 1
    )
    assert (
        delta(
            "pgw_section_source_total",
            surface="discovery",
            section="for_you",
            source="CANDIDATE_ORDER",
        )
        == 1
    )
    assert (
        delta(
            "pgw_graphql_requests_total", operation="Home", surface="discovery", outcome="degraded"
        )
        == 1
    )

    # spans: the operation continues the caller's trace; the ranking call failed
    finished = spans.get_finished_spans()
    operation = next(s for s in finished if s.name == "query Home")
    assert format(operation.context.trace_id, "032x") == TRACE_ID
    rank_spans = [s for s in finished if s.name == "ranking rank:batch"]
    assert rank_spans
    assert all(s.attributes["pgw.outcome"] == "error" for s in rank_spans)

    # logs: one access line, and a fallback warning naming the backend and cause
    [access] = [e for e in logs if e["event"] == "graphql"]
    assert access["trace_id"] == TRACE_ID
    assert access["sources"]["for_you"] == "CANDIDATE_ORDER"
    assert any(e.get("backend") == "ranking" and e["log_level"] == "warning" for e in logs)

    # the backend saw the gateway's trace: the traceparent of an HTTP attempt's span under
    # the ranking call's span
    rank_ids = {s.context.span_id for s in rank_spans}
    attempts = [s for s in finished if s.parent is not None and s.parent.span_id in rank_ids]
    assert attempts
    async with httpx.AsyncClient() as plain:
        seen = (await plain.get(f"{live.backend_urls['ranking']}/_debug/requests")).json()
    sent = {f"00-{TRACE_ID}-{s.context.span_id:016x}-01" for s in attempts}
    assert sent & {r["traceparent"] for r in seen}
