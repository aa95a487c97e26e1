"""The decision log as a durable Redis Stream (``PGW_EVENTS_REDIS_URL``; decision 0017).

A per-pod JSON-lines file is lost with the pod; this writes the same records (decisions and
feedback lines) to one stream on a Redis configured for durability (append-only file,
``noeviction``), from every replica. ``python -m gateway decisions export`` turns the stream
back into the JSON-lines dataset the offline tools read (:func:`export_lines`).

Served means written: a request that records lines registers one future per line in
:data:`DURABLE_WRITES` (the HTTP layer gives every request its own list), and the response
is held until they are written (:func:`settle`, bounded: a Redis that does not answer costs
at most the write timeout, never the page). So every decision of a page that was answered,
and every event a ``recordEvents`` answer counted as accepted, is in the stream, once: a
line is written by one ``XADD`` and never retried (a failed write is dropped and counted).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from contextvars import ContextVar
from typing import Any

import orjson

from resolvers.events.decision_log import DecisionLog

log = logging.getLogger("pgw.decisions")

#: The current request's pending durable writes (None outside a request: nothing waits).
DURABLE_WRITES: ContextVar[list[asyncio.Future[bool]] | None] = ContextVar(
    "pgw_durable_writes", default=None
)

_FIELD = "d"
_BATCH = 500


async def settle(waiting: list[asyncio.Future[bool]], timeout_s: float) -> bool:
    """Wait (at most ``timeout_s``) until the given writes are done; True if all succeeded."""
    if not waiting:
        return True
    pending = list(waiting)
    waiting.clear()
    done, _ = await asyncio.wait(pending, timeout=timeout_s)
    return len(done) == len(pending) and all(f.result() for f in done)


class RedisDecisionStream(DecisionLog):
    """``DecisionLog``'s interface over ``XADD`` to one stream, batched by a writer task."""

    def __init__(self, url: str, stream: str, *, max_queue: int = 10_000) -> None:
        super().__init__(None, max_queue=max_queue, linger_s=0.0)
        self.url = url
        self.stream = stream
        self._redis: Any = None
        self._lines: asyncio.Queue[tuple[bytes, asyncio.Future[bool] | None]] = asyncio.Queue(
            maxsize=max_queue
        )

    @property
    def enabled(self) -> bool:
        return True

    def record(self, entry: Mapping[str, Any]) -> None:
        """Enqueue one line (never blocks, never raises); the request waits for it."""
        waiters = DURABLE_WRITES.get()
        future: asyncio.Future[bool] | None = None
        if waiters is not None:
            future = asyncio.get_running_loop().create_future()
        try:
            self._lines.put_nowait((orjson.dumps(entry), future))
        except asyncio.QueueFull:
            self.dropped += 1
            return
        if future is not None and waiters is not None:
            waiters.append(future)

    async def start(self) -> None:
        if self._task is not None:
            return
        from clients.redis import redis_client

        self._redis = redis_client(self.url, timeout_s=2.0, connect_timeout_s=1.0)
        self._task = asyncio.get_running_loop().create_task(self._write(), name="decision-stream")

    async def flush(self) -> None:
        if self._task is not None:
            await self._lines.join()

    async def aclose(self) -> None:
        await super().aclose()
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    async def _write(self) -> None:
        lines = self._lines
        while True:
            batch = [await lines.get()]
            while not lines.empty() and len(batch) < _BATCH:
                batch.append(lines.get_nowait())
            ok = False
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for line, _ in batch:
                        pipe.xadd(self.stream, {_FIELD: line})
                    await pipe.execute()
                self.written += len(batch)
                ok = True
            except Exception:
                self.dropped += len(batch)
                log.exception("decision stream write failed; %d lines dropped", len(batch))
            finally:
                for _, future in batch:
                    if future is not None and not future.done():
                        future.set_result(ok)
                    lines.task_done()


async def export_lines(redis: Any, stream: str, *, page: int = 1000) -> AsyncIterator[bytes]:
    """Every record of the stream, oldest first, as one JSON line each."""
    start = "-"
    while True:
        entries = await redis.xrange(stream, min=start, max="+", count=page)
        if not entries:
            return
        for entry_id, fields in entries:
            line = fields.get(_FIELD.encode()) or fields.get(_FIELD)
            if line:
                yield (line if isinstance(line, bytes) else line.encode()) + b"\n"
            last = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
        start = "(" + last
        if len(entries) < page:
            return


@contextlib.contextmanager
def durable_writes() -> Any:
    """Give the current context its own list of pending writes (the HTTP layer's per
    request); yields the list to :func:`settle` on before answering."""
    waiting: list[asyncio.Future[bool]] = []
    token = DURABLE_WRITES.set(waiting)
    try:
        yield waiting
    finally:
        DURABLE_WRITES.reset(token)


__all__ = ["DURABLE_WRITES", "RedisDecisionStream", "durable_writes", "export_lines", "settle"]
