"""/metrics tells an on-call engineer which backend hurts which surface, and how much."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.gateway.conftest import HELSINKI, Gateway

CATEGORY = (
    'query Category($loc: LocationInput!) { category(slug: "pizza", location: $loc, '
    "first: 5) { degraded source } }"
)


async def _samples(gw: Gateway) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await gw.client.get("/metrics")
    assert response.status_code == 200
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def _value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_failing_backend_shows_in_backend_section_and_request_metrics(
    gateway: Gateway,
) -> None:
    before = await _samples(gateway)
    gateway.fakes.fail("ranking", "500")
    for n in range(6):
        await gateway.query(CATEGORY, {"loc": HELSINKI}, user=f"u07{n}")
    after = await _samples(gateway)

    def delta(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    # five failures open the breaker; the sixth call fails fast
    assert (
        delta("pgw_backend_requests_total", backend="ranking", endpoint="rank", outcome="error")
        == 5
    )
    assert (
        delta(
            "pgw_backend_requests_total", backend="ranking", endpoint="rank", outcome="circuit_open"
        )
        == 1
    )
    assert _value(after, "pgw_circuit_state", backend="ranking") == 2
    assert (
        delta(
            "pgw_section_source_total",
            surface="category",
            section="category_venues",
            source="CANDIDATE_ORDER",
        )
        == 6
    )
    assert (
        delta(
            "pgw_graphql_requests_total",
            operation="other",
            surface="category",
            outcome="degraded",
        )
        == 6
    )
    assert (
        delta("pgw_graphql_request_duration_seconds_count", operation="other", surface="category")
        == 6
    )
    assert (
        delta(
            "pgw_backend_requests_total", backend="retrieval", endpoint="candidates", outcome="ok"
        )
        == 6
    )


async def test_cache_results_are_counted(gateway: Gateway) -> None:
    before = await _samples(gateway)
    await gateway.query(CATEGORY, {"loc": HELSINKI}, user="u0001")
    await gateway.query(CATEGORY, {"loc": HELSINKI}, user="u0001")
    after = await _samples(gateway)
    hits = _value(after, "pgw_cache_requests_total", cache="retrieval", result="hit") - _value(
        before, "pgw_cache_requests_total", cache="retrieval", result="hit"
    )
    misses = _value(after, "pgw_cache_requests_total", cache="retrieval", result="miss") - _value(
        before, "pgw_cache_requests_total", cache="retrieval", result="miss"
    )
    assert (hits, misses) == (1, 1)


async def test_client_errors_and_deadline_are_counted(gateway: Gateway) -> None:
    before = await _samples(gateway)
    await gateway.query(
        'query Bad { category(slug: "nope", location: {lat: 60.17, lon: 24.94}) { degraded } }'
    )
    gateway.fakes.fail("retrieval", "hang")
    await gateway.query(
        CATEGORY, {"loc": HELSINKI}, user="u0001", headers={"X-Request-Timeout-Ms": "1"}
    )
    after = await _samples(gateway)
    assert (
        _value(
            after,
            "pgw_graphql_requests_total",
            operation="other",
            surface="none",
            outcome="client_error",
        )
        - _value(
            before,
            "pgw_graphql_requests_total",
            operation="other",
            surface="none",
            outcome="client_error",
        )
        == 1
    )
    assert (
        _value(after, "pgw_deadline_exceeded_total", surface="category")
        - _value(before, "pgw_deadline_exceeded_total", surface="category")
        == 1
    )
