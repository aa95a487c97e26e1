"""The Redis Streams outbox, against the real Redis (db 15, a unique stream per test)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis import asyncio as aioredis

from resolvers.events import RedisOutbox, Reward
from tests.fakes import FakeBackends
from tests.feedback.conftest import FeedbackGateway, delivered, record, rewards_sent, section

REDIS = "redis://127.0.0.1:6379/15"

pytestmark = pytest.mark.redis


@pytest.fixture
async def stream() -> AsyncIterator[str]:
    name = f"pgw-test-{uuid.uuid4().hex}"
    yield name
    client = aioredis.from_url(REDIS)
    keys = [k async for k in client.scan_iter(f"{name}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def _rewards(n: int) -> list[Reward]:
    return [Reward(f"e{i}", f"d{i}", "bn1", 1.0) for i in range(n)]


async def test_adds_are_deduplicated_and_a_dead_consumers_entries_are_taken_over(
    stream: str,
) -> None:
    a = RedisOutbox(REDIS, stream, consumer="a")
    b = RedisOutbox(REDIS, stream, consumer="b")
    await a.open()
    await b.open()
    try:
        assert await a.add(_rewards(3)) == 3
        assert await b.add(_rewards(3)) == 0  # the same event ids: nothing new
        claimed = await a.claim(10, lease_s=30)
        assert sorted(c.reward.event_id for c in claimed) == ["e0", "e1", "e2"]
        # "a" dies without acknowledging; "b" takes the entries over once the lease is out
        taken: list[str] = []
        async with asyncio.timeout(5):
            while not taken:
                taken = [c.reward.event_id for c in await b.claim(10, lease_s=0.05)]
        assert sorted(taken) == ["e0", "e1", "e2"]
        again = await b.claim(10, lease_s=0.05)  # b's own pending, read back with id 0
        await b.delivered(again)
        assert await b.pending() == 0
        assert await a.claim(10, lease_s=30) == []
    finally:
        await a.close()
        await b.close()


async def test_rewards_survive_an_outage_and_a_restart_through_redis(
    make_feedback_gateway: FeedbackGateway, fakes: FakeBackends, stream: str
) -> None:
    settings = {
        "events_redis_url": REDIS,
        "cache_namespace": stream,
        "events_stream": "rewards",
        "events_consumer": "gw-test",
    }
    async with make_feedback_gateway(**settings) as gw:
        page = await gw.discovery(user="u0001")
        fakes.fail("bandit", "refused")
        banners = section(page, "banners")
        clicks = [
            {"kind": "CLICK", "trackingId": banners["trackingId"], "entityId": b["id"]}
            for b in banners["banners"][:2]
        ]
        assert (await record(gw, clicks, user="u0001"))["accepted"] == 2
        assert await gw.app.state.runtime.feedback.outbox.pending() == 3
        attempts_down = len(rewards_sent(fakes))
    async with make_feedback_gateway(**settings) as gw2:
        fakes.fail("bandit", None)
        await delivered(gw2)
        sent = rewards_sent(fakes)[attempts_down:]
        assert len({r["event_id"] for r in sent}) == 3
        assert {r["arm"] for r in sent} == {"banners", *(b["id"] for b in banners["banners"][:2])}
