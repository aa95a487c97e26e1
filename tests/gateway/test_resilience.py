"""Circuit breaking, retries and the deadline, seen from the GraphQL surface."""

from __future__ import annotations

import time

import pytest

from tests.gateway.conftest import HELSINKI, Gateway, GatewayFactory

CATEGORY = (
    'query($loc: LocationInput!) { category(slug: "pizza", location: $loc, first: 5) '
    "{ degraded source } }"
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _category_source(gw: Gateway, user: str = "u0001") -> str:
    response = await gw.query(CATEGORY, {"loc": HELSINKI}, user=user)
    return str(response.json()["data"]["category"]["source"])


async def test_breaker_opens_half_opens_and_recovers(gateway: Gateway) -> None:
    clock = FakeClock()
    runtime = gateway.app.state.runtime
    runtime.backends.ranking.breaker._clock = clock  # the breaker's injectable clock
    gateway.fakes.fail("ranking", "500")

    # Five consecutive failures open the breaker (each request asks a different user, so
    # nothing is served from cache).
    for n in range(5):
        assert await _category_source(gateway, f"u10{n}") == "CANDIDATE_ORDER"
    calls_when_open = gateway.fakes.calls["ranking"]
    for n in range(5):
        assert await _category_source(gateway, f"u20{n}") == "CANDIDATE_ORDER"
    assert gateway.fakes.calls["ranking"] == calls_when_open, "open breaker must not call"

    # After the open period one probe goes through; the backend is healthy again, so the
    # breaker closes and personalised content returns.
    gateway.fakes.fail("ranking", None)
    clock.now += 5.1
    assert await _category_source(gateway, "u300") == "PERSONALISED"
    assert gateway.fakes.calls["ranking"] == calls_when_open + 1
    assert await _category_source(gateway, "u301") == "PERSONALISED"


async def test_half_open_probe_failure_reopens(gateway: Gateway) -> None:
    clock = FakeClock()
    gateway.app.state.runtime.backends.ranking.breaker._clock = clock
    gateway.fakes.fail("ranking", "500")
    for n in range(5):
        await _category_source(gateway, f"u10{n}")
    calls = gateway.fakes.calls["ranking"]
    clock.now += 5.1
    assert await _category_source(gateway, "u400") == "CANDIDATE_ORDER"  # the probe fails
    assert gateway.fakes.calls["ranking"] == calls + 1
    assert await _category_source(gateway, "u401") == "CANDIDATE_ORDER"
    assert gateway.fakes.calls["ranking"] == calls + 1, "re-opened: no further calls"


@pytest.mark.parametrize(
    ("failure", "status", "expected_calls"),
    [
        ("refused", 500, 2),
        ("500", 500, 1),
        ("500", 503, 2),
        ("500", 429, 2),
        ("malformed", 500, 1),
        ("wrong_shape", 500, 1),
        ("hang", 500, 1),
    ],
)
async def test_retries_only_for_connect_errors_429_and_503(
    gateway: Gateway, failure: str, status: int, expected_calls: int
) -> None:
    gateway.fakes.fail("ranking", failure, status=status)
    response = await gateway.query(CATEGORY, {"loc": HELSINKI}, user="u0001")
    body = response.json()
    assert body["data"]["category"]["source"] == "CANDIDATE_ORDER", str(body["extensions"])
    assert gateway.fakes.calls["ranking"] == expected_calls


async def test_bandit_decisions_are_never_retried(gateway: Gateway) -> None:
    gateway.fakes.fail("bandit", "refused")
    await gateway.discovery()
    decide_calls = [r for r in gateway.fakes.requests["bandit"] if r["path"] == "/v1/decide:batch"]
    assert len(decide_calls) == 1  # one batch, asked once
    assert len(gateway.fakes.decide_requests()) == 2  # section order + banners


async def test_hanging_backend_is_cut_at_the_deadline_and_never_retried(gateway: Gateway) -> None:
    gateway.fakes.fail("ranking", "hang")
    started = time.perf_counter()
    source = await _category_source(gateway)
    assert time.perf_counter() - started < 3 * 0.25  # 3x the category budget, not a hang
    assert source == "CANDIDATE_ORDER"
    assert gateway.fakes.calls["ranking"] == 1


async def test_client_timeout_header_lowers_the_budget(gateway: Gateway) -> None:
    gateway.fakes.fail("ranking", "hang")
    started = time.perf_counter()
    response = await gateway.query(
        CATEGORY, {"loc": HELSINKI}, user="u0001", headers={"X-Request-Timeout-Ms": "80"}
    )
    elapsed = time.perf_counter() - started
    assert response.json()["data"]["category"]["source"] == "CANDIDATE_ORDER"
    # 3x the 80 ms budget: still far below the category's own 250 ms budget plus a hang
    assert elapsed < 3 * 0.08, f"took {elapsed * 1000:.0f} ms with an 80 ms budget"


async def test_retry_never_runs_past_the_deadline(make_gateway: GatewayFactory) -> None:
    # Ranking refuses connections after 60 ms; a retry would need another 60 ms, but the
    # 100 ms budget leaves no room, so exactly one attempt is made.
    async with make_gateway() as gw:
        gw.fakes.delay(0.06, "ranking")
        gw.fakes.fail("ranking", "refused")
        started = time.perf_counter()
        response = await gw.query(
            CATEGORY, {"loc": HELSINKI}, user="u0001", headers={"X-Request-Timeout-Ms": "100"}
        )
        elapsed = time.perf_counter() - started
        assert response.json()["data"]["category"]["source"] == "CANDIDATE_ORDER"
        assert gw.fakes.calls["ranking"] == 1
        assert elapsed < 3 * 0.1  # the call count is the check; 3x the budget bounds it
