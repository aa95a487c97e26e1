"""Access lines and fallback warnings: what happened, without personal data."""

from __future__ import annotations

from structlog.testing import capture_logs

from tests.gateway.conftest import HELSINKI, Gateway

CATEGORY = (
    'query Category($loc: LocationInput!) { category(slug: "pizza", location: $loc, '
    "first: 5) { degraded source } }"
)
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


async def test_one_access_line_per_request_and_a_warning_per_fallback(gateway: Gateway) -> None:
    gateway.fakes.fail("ranking", "500")
    with capture_logs() as logs:
        await gateway.query(
            CATEGORY,
            {"loc": HELSINKI},
            user="u0001",
            headers={"X-Request-Id": "req-42", "traceparent": TRACEPARENT},
        )
    [access] = [entry for entry in logs if entry["event"] == "graphql"]
    assert access["request_id"] != "req-42"  # ours
    assert access["correlation_id"] == "req-42"  # theirs, to join their logs to ours
    assert access["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert access["operation"] == "Category"
    assert access["surface"] == "category"
    assert access["degraded"] is True
    assert access["sources"] == {"category_venues": "CANDIDATE_ORDER"}
    assert access["duration_ms"] > 0
    assert access["viewer"]
    assert "u0001" not in str(access)
    [warning] = [entry for entry in logs if entry["log_level"] == "warning"]
    assert (warning["backend"], warning["endpoint"], warning["cause"]) == (
        "ranking",
        "rank:venue",
        "BackendUnavailable",
    )
    assert "60.1699" not in str(logs), "no location in logs"


async def test_viewer_hash_is_stable_per_viewer_and_distinct_between_viewers(
    gateway: Gateway,
) -> None:
    with capture_logs() as logs:
        for user in ("u0001", "u0001", "u0002"):
            await gateway.query(CATEGORY, {"loc": HELSINKI}, user=user)
    hashes = [entry["viewer"] for entry in logs if entry["event"] == "graphql"]
    assert hashes[0] == hashes[1] != hashes[2]
