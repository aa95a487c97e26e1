"""Rate limiting: a token bucket per viewer (per IP when anonymous), shared through Redis."""

from __future__ import annotations

import uuid

import pytest

from gateway.ratelimit import Quota, RateLimiter
from tests.gateway.conftest import GatewayFactory

QUERY = "{ discovery(location: {lat: 60.17, lon: 24.94}) { degraded } }"


async def test_burst_then_429_with_retry_after(make_gateway: GatewayFactory) -> None:
    async with make_gateway(rate_limit_rps=0.5, rate_limit_burst=3) as gw:
        statuses = [(await gw.query(QUERY, user="u0001")).status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        refused = await gw.query(QUERY, user="u0001")
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "2"
        [error] = refused.json()["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        # another viewer has their own bucket; anonymous callers are limited per IP
        assert (await gw.query(QUERY, user="u0002")).status_code == 200


async def test_anonymous_callers_share_their_ip_bucket(make_gateway: GatewayFactory) -> None:
    async with make_gateway(rate_limit_anonymous_rps=0.1, rate_limit_anonymous_burst=2) as gw:
        codes = [(await gw.query(QUERY)).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        assert (await gw.query(QUERY, user="u0001")).status_code == 200


async def test_bucket_refills_over_time() -> None:
    now = [100.0]
    limiter = RateLimiter(clock=lambda: now[0])
    quota = Quota(rate=1000.0, burst=1)
    assert (await limiter.check("k", quota)).allowed
    denied = await limiter.check("k", quota)
    assert not denied.allowed
    assert denied.retry_after_s == 1
    now[0] += 0.01  # 10 ms later: 10 tokens' worth
    assert (await limiter.check("k", quota)).allowed


@pytest.mark.redis
async def test_replicas_share_one_bucket_through_redis(make_gateway: GatewayFactory) -> None:
    shared = {
        "redis_url": "redis://127.0.0.1:6379/15",
        "cache_namespace": f"rl-{uuid.uuid4().hex[:8]}",
        "rate_limit_rps": 0.5,
        "rate_limit_burst": 2,
    }
    async with make_gateway(**shared) as first, make_gateway(**shared) as second:
        assert (await first.query(QUERY, user="u0009")).status_code == 200
        assert (await second.query(QUERY, user="u0009")).status_code == 200
        assert (await first.query(QUERY, user="u0009")).status_code == 429
        assert (await second.query(QUERY, user="u0009")).status_code == 429


@pytest.mark.redis
async def test_unreachable_redis_lets_requests_through(make_gateway: GatewayFactory) -> None:
    async with make_gateway(redis_url="redis://127.0.0.1:1/0", rate_limit_burst=1) as gw:
        assert (await gw.query(QUERY, user="u0001")).status_code == 200
        assert (await gw.query(QUERY, user="u0001")).status_code == 200
