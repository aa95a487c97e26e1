"""The one failure policy for a Redis the gateway can do without for a while."""

from __future__ import annotations

import asyncio
import logging

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from clients.redis import RedisPolicy, RedisUnavailable, redis_client
from tests.clients.conftest import FakeClock


async def _ok() -> str:
    return "ok"


async def _refused() -> str:
    raise RedisConnectionError("refused")


async def _hangs() -> str:
    await asyncio.Event().wait()
    return "never"


async def test_a_failure_skips_redis_for_the_cool_down(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    policy = RedisPolicy("test", timeout_s=1.0, cooldown_s=5.0, clock=clock)
    with pytest.raises(RedisUnavailable):
        await policy.run(_refused())
    assert not policy.available
    skipped = _ok()
    with pytest.raises(RedisUnavailable):
        await policy.run(skipped)  # not started: no network during the cool-down
    assert skipped.cr_frame is None  # closed unawaited
    clock.advance(5.0)
    assert policy.available
    assert await policy.run(_ok()) == "ok"
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(messages) == 2, messages  # the outage once, its end once
    assert "going on without it" in messages[0]
    assert "reachable again" in messages[1]


async def test_only_a_run_of_slow_answers_is_an_outage() -> None:
    policy = RedisPolicy("test", timeout_s=0.001, cooldown_s=5.0, slow_in_a_row=3)
    for _ in range(2):
        with pytest.raises(RedisUnavailable):
            await policy.run(_hangs())
        assert policy.available
    with pytest.raises(RedisUnavailable):
        await policy.run(_hangs())
    assert not policy.available


def test_the_factory_accepts_only_redis_urls() -> None:
    with pytest.raises(ValueError, match="redis://"):
        redis_client("http://127.0.0.1:6379/0", timeout_s=0.05)
    client = redis_client("rediss://:pw@cache.internal:6380/3", timeout_s=0.05)
    kwargs = client.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("cache.internal", 6380, 3)
    assert kwargs["socket_timeout"] == kwargs["socket_connect_timeout"] == 0.05
