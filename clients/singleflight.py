"""Single-flight: concurrent identical calls share one in-flight call."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["SingleFlight"]


class SingleFlight:
    """Deduplicates concurrent calls by key.

    The first caller of a key starts the call as a task; callers arriving while it is in
    flight await the same task and get its result or its exception. Waiters are shielded:
    cancelling one (its own deadline passed) never cancels the shared call, which still
    completes (and fills the cache) for the others. The key is forgotten when the call ends,
    so results are never reused after the fact (that is the cache's job).

    Example usage:
        ```python
        flight = SingleFlight()
        response = await flight.do("ranking:abc", lambda: fetch_ranking(request))
        ```
    """

    def __init__(self) -> None:
        self._inflight: dict[str, asyncio.Task[Any]] = {}

    def __len__(self) -> int:
        return len(self._inflight)

    async def do(self, key: str, coro_factory: Callable[[], Awaitable[T]]) -> T:
        """Run ``coro_factory()`` unless a call with ``key`` is already in flight; await it."""
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(coro_factory())
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._forget(key, done))
        result: T = await asyncio.shield(task)
        return result

    def _forget(self, key: str, task: asyncio.Task[Any]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # mark retrieved: every waiter may have gone away

    async def aclose(self) -> None:
        """Cancel calls still in flight (at shutdown)."""
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
