"""Caching: hits make no call, concurrent twins make one, stale beats nothing, Redis is
shared between replicas and never required."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from tests.gateway.conftest import HELSINKI, Gateway, GatewayFactory

CATEGORY = (
    'query($loc: LocationInput!) { category(slug: "pizza", location: $loc, first: 5) '
    "{ degraded source venues { edges { node { id } } } } }"
)


async def _category(gw: Gateway, user: str = "u0001") -> dict[str, object]:
    response = await gw.query(CATEGORY, {"loc": HELSINKI}, user=user)
    assert response.status_code == 200
    return dict(response.json()["data"]["category"])


async def test_repeated_request_makes_no_backend_call(gateway: Gateway) -> None:
    first = await _category(gateway)
    calls = sum(gateway.fakes.calls.values())
    assert calls > 0
    second = await _category(gateway)
    assert sum(gateway.fakes.calls.values()) == calls
    assert second["venues"] == first["venues"]
    assert second["source"] == "PERSONALISED"


async def test_repeated_discovery_only_asks_an_uncached_bandit_again(gateway: Gateway) -> None:
    await gateway.discovery(user="u0001")
    before = dict(gateway.fakes.calls)
    await gateway.discovery(user="u0001")
    after = dict(gateway.fakes.calls)
    for name in ("catalog", "retrieval", "ranking", "popularity"):
        assert after.get(name, 0) == before.get(name, 0), name
    # Without a bandit TTL every page is a fresh draw (banners and section order), both
    # decisions in one batch call.
    assert after["bandit"] == before["bandit"] + 1
    assert len(gateway.fakes.decide_requests()) == 4


async def test_with_the_shipped_bandit_ttl_a_refresh_makes_no_backend_call(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway(backends={"bandit": {"cache_ttl_s": 30}}) as gw:
        first = await gw.discovery(user="u0001")
        calls = sum(gw.fakes.calls.values())
        second = await gw.discovery(user="u0001")
        assert sum(gw.fakes.calls.values()) == calls
        # the same decisions, so the same order, in a new request with new tracking ids
        assert [s["id"] for s in second["sections"]] == [s["id"] for s in first["sections"]]
        assert second["requestId"] != first["requestId"]


async def test_fifty_concurrent_identical_requests_make_one_call(
    make_gateway: GatewayFactory,
) -> None:
    # 50 requests on one in-process event loop (client and server) queue for the CPU, so
    # the budget is widened, and the load shedder (decision 0024: cheap pages past 48 in
    # flight) is held off: this test is about single-flight, not latency or overload.
    async with make_gateway(
        budget_ms=3000,
        shed_degrade_at=1000,
        backends={name: {"timeout_s": 2.0} for name in ("catalog", "retrieval", "ranking")},
    ) as gw:
        gw.fakes.delay(0.05)
        pages = await asyncio.gather(*(_category(gw) for _ in range(50)))
        assert all(p == pages[0] for p in pages)
        assert pages[0]["source"] == "PERSONALISED"
        assert gw.fakes.calls["retrieval"] == 1
        assert gw.fakes.calls["ranking"] == 1
        assert gw.fakes.calls["catalog"] == 1


async def test_stale_entry_served_when_backend_fails_after_expiry(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway(backends={"ranking": {"cache_ttl_s": 0.05}}) as gw:
        fresh = await _category(gw)
        assert fresh["source"] == "PERSONALISED"
        await asyncio.sleep(0.06)  # let the 50 ms ranking entry expire
        gw.fakes.fail("ranking", "500")
        stale = await _category(gw)
        assert stale["source"] == "STALE"
        assert stale["venues"] == fresh["venues"]
        assert stale["degraded"] is True


async def test_errors_are_never_cached(gateway: Gateway) -> None:
    gateway.fakes.fail("ranking", "500")
    assert (await _category(gateway))["source"] == "CANDIDATE_ORDER"
    gateway.fakes.fail("ranking", None)
    assert (await _category(gateway))["source"] == "PERSONALISED"


async def test_stale_section_served_when_every_backend_of_it_fails(
    make_gateway: GatewayFactory,
) -> None:
    # Retrieval uncached, so its failure reaches the section; "Order again" has no
    # popularity fallback, so the last good version of the section is what is left.
    async with make_gateway(backends={"retrieval": {"cache_ttl_s": None}}) as gw:
        page = await gw.discovery(user="u0001")
        order_again = next(s for s in page["sections"] if s["id"] == "order_again")
        assert order_again["source"] == "PERSONALISED"
        await gw.app.state.runtime.stale.drain()
        gw.fakes.fail("retrieval", "500")
        degraded = await gw.discovery(user="u0001")
        stale = next(s for s in degraded["sections"] if s["id"] == "order_again")
        assert stale["source"] == "STALE"
        assert [v["id"] for v in stale["venues"]] == [v["id"] for v in order_again["venues"]]
        assert degraded["degraded"] is True


@pytest.mark.redis
async def test_two_gateways_share_entries_through_redis(make_gateway: GatewayFactory) -> None:
    namespace = f"test-{uuid.uuid4().hex[:8]}"
    settings = {"redis_url": "redis://127.0.0.1:6379/15", "cache_namespace": namespace}
    async with make_gateway(**settings) as first, make_gateway(**settings) as second:
        await _category(first)
        calls = dict(first.fakes.calls)
        page = await _category(second)
        assert page["source"] == "PERSONALISED"
        assert dict(second.fakes.calls) == calls, "the second replica used the shared entries"


@pytest.mark.redis
async def test_unreachable_redis_never_fails_a_request(make_gateway: GatewayFactory) -> None:
    async with make_gateway(redis_url="redis://127.0.0.1:1/0") as gw:
        started = time.perf_counter()
        page = await _category(gw)
        assert page["source"] == "PERSONALISED"
        assert time.perf_counter() - started < 3 * 0.25  # 3x the category budget
        page = await gw.discovery(user="u0001")
        assert page["degraded"] is False
