"""One way to open Redis, and one policy for when it fails.

Every Redis the gateway talks to is opened by :func:`redis_client`: the response cache (via
aiocache, which is handed the same connection pool), the rate limiter and the reward outbox.
The URL is checked once, here, and every connection is bounded by a socket timeout.

:class:`RedisPolicy` is the failure policy of a Redis the gateway can live without for a
while (the response cache, the rate limiter): each operation is bounded by ``timeout_s``; a
failure, or ``slow_in_a_row`` timeouts in a row (one slow answer on a busy event loop is not
an outage), switches Redis off for ``cooldown_s``, during which operations fail at once
without touching the network; the outage is logged once, and its end once. What a failure
means is the caller's: the cache reads a miss, the rate limiter lets the request through.
The reward outbox is the one Redis that must not be skipped (its writes are durable
rewards): it uses the same client, and a failure fails the events, which clients resend.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.exceptions import RedisError

__all__ = ["RedisPolicy", "RedisUnavailable", "redis_client"]

log = logging.getLogger(__name__)

SCHEMES = ("redis", "rediss")
T = TypeVar("T")


def redis_client(url: str, *, timeout_s: float, connect_timeout_s: float | None = None) -> Redis:
    """A client (with its own connection pool) for ``url``; nothing connects until used.

    Raises:
        ValueError: the URL is not ``redis://`` or ``rediss://``.
    """
    scheme = urlsplit(url).scheme
    if scheme not in SCHEMES:
        raise ValueError(f"redis_url must be redis:// or rediss://, got {url!r}")
    return Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=connect_timeout_s if connect_timeout_s is not None else timeout_s,
    )


class RedisUnavailable(Exception):
    """Redis failed or was too slow just now, or is being skipped after that."""


class RedisPolicy:
    """Bounded operations and a cool-down after an outage, for one Redis user.

    Args:
        user: who uses this Redis, for the log ("response cache", "rate limiter").
        timeout_s: the bound on each operation.
        cooldown_s: how long Redis is skipped after a failure.
        slow_in_a_row: timeouts in a row that count as an outage.
        clock: monotonic seconds; injected by tests.
    """

    def __init__(
        self,
        user: str,
        *,
        timeout_s: float,
        cooldown_s: float,
        slow_in_a_row: int = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.user = user
        self.timeout_s = timeout_s
        self.cooldown_s = cooldown_s
        self.slow_in_a_row = slow_in_a_row
        self._clock = clock
        self._down = False
        self._down_until = 0.0
        self._slow = 0

    @property
    def available(self) -> bool:
        """False while an outage is cooling down."""
        return not self._down or self._clock() >= self._down_until

    async def run(self, operation: Awaitable[T]) -> T:
        """The operation's result, within ``timeout_s``.

        Raises:
            RedisUnavailable: Redis failed, timed out or is cooling down (the operation is
                then not started).
        """
        if not self.available:
            if asyncio.iscoroutine(operation):
                operation.close()
            raise RedisUnavailable(f"{self.user}: redis skipped while it cools down")
        try:
            async with asyncio.timeout(self.timeout_s):
                result = await operation
        except TimeoutError as exc:
            self._slow += 1
            if self._slow >= self.slow_in_a_row:
                self._mark_down(exc)
            raise RedisUnavailable(f"{self.user}: redis too slow") from exc
        except (RedisError, OSError) as exc:
            self._mark_down(exc)
            raise RedisUnavailable(f"{self.user}: redis failed: {exc}") from exc
        self._slow = 0
        if self._down:
            self._down = False
            log.warning("%s: redis reachable again", self.user)
        return result

    def _mark_down(self, exc: BaseException) -> None:
        self._slow = 0
        self._down_until = self._clock() + self.cooldown_s
        if not self._down:
            self._down = True
            log.warning(
                "%s: redis failed (%s: %s); going on without it for %.1fs at a time",
                self.user,
                type(exc).__name__,
                exc,
                self.cooldown_s,
            )
