"""The last good content of each section, kept so a total outage still shows something.

Only ids are kept (plus reasons): entities are re-hydrated through the catalog client, whose
own cache serves stale entities when the catalog is down. Writes happen off the request
path; a failing cache loses nothing but the fallback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from clients.cache import ResponseCache

log = logging.getLogger(__name__)

StaleEntry = dict[str, list[str] | dict[str, str | None]]


class StaleSections:
    """Section content by key, written in the background, read on the last-but-one step."""

    def __init__(self, cache: ResponseCache, ttl_s: float) -> None:
        self._cache = cache
        self._ttl_s = ttl_s
        self._writes: set[asyncio.Task[None]] = set()

    @staticmethod
    def key(*parts: str | None) -> str:
        return "section:v1:" + ":".join(p or "-" for p in parts)

    async def get(self, key: str) -> tuple[list[str], dict[str, str | None]] | None:
        try:
            found = await self._cache.get(key, self._ttl_s)
        except Exception:  # the stale store is best effort by design
            log.warning("stale section read failed", exc_info=True)
            return None
        if found is None:
            return None
        value = found[0]
        if not isinstance(value, dict):
            return None
        ids = value.get("ids")
        reasons = value.get("reasons")
        if not isinstance(ids, list):
            return None
        return [str(i) for i in ids], dict(reasons) if isinstance(reasons, dict) else {}

    def remember(self, entries: Mapping[str, tuple[list[str], dict[str, str | None]]]) -> None:
        """Store entries without making the caller wait."""
        if not entries or self._ttl_s <= 0:
            return
        payload = {k: {"ids": ids, "reasons": reasons} for k, (ids, reasons) in entries.items()}
        task = asyncio.get_running_loop().create_task(self._write(payload))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _write(self, payload: Mapping[str, object]) -> None:
        try:
            await self._cache.set_many(payload, self._ttl_s)
        except Exception:
            log.warning("stale section write failed", exc_info=True)

    async def drain(self) -> None:
        """Wait for pending writes (at shutdown and in tests)."""
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
