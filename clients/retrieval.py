"""Retrieval backend: candidate generation (``POST /v1/candidates``, ``…:batch``)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from clients.base import DEFAULT_RESERVE_S, BackendClient, _revalidate
from clients.contracts.retrieval import (
    MAX_BATCH_REQUESTS,
    CandidatesBatchRequest,
    CandidatesBatchResponse,
    CandidatesRequest,
    CandidatesResponse,
)
from clients.deadline import Deadline
from clients.errors import BackendError, BackendMalformed, BackendRejected
from clients.results import CacheResult, Fetched

__all__ = ["CANDIDATES_TIME_BUCKET_MIN", "RetrievalClient", "candidates_cache_parts"]

CANDIDATES_TIME_BUCKET_MIN = 5
"""Requests within the same five minutes of local time share cached candidates."""


def _time_bucket(local_time: str | None) -> str | None:
    """``2026-11-26T12:07:31+02:00`` → ``2026-11-26T12:05`` (the five-minute bucket)."""
    if local_time is None or len(local_time) < 16:
        return local_time
    try:
        minute = int(local_time[14:16])
    except ValueError:
        return local_time
    return f"{local_time[:14]}{minute - minute % CANDIDATES_TIME_BUCKET_MIN:02d}"


def candidates_cache_parts(req: CandidatesRequest) -> list[object]:
    """What a candidate list depends on, for its cache key.

    Everything in the request except the exact second and metre: the local time counts by
    five-minute bucket and the location to about 100 m (three decimals), so a viewer who
    comes back a minute later, or a few steps away, hits the cache. Whether a venue is open
    is computed again for every page from the catalog's hours, so a list up to five minutes
    old shows no venue as open that has closed.
    """
    return [
        req.surface.value,
        req.strategy.value,
        req.user_id,
        round(req.location.lat, 3),
        round(req.location.lon, 3),
        _time_bucket(req.local_time),
        req.category,
        req.venue_id,
        sorted(req.cart_item_ids),
        req.limit,
    ]


class RetrievalClient(BackendClient):
    """Typed client of the retrieval backend (cached, see :func:`candidates_cache_parts`).

    Construct with ``RetrievalClient("retrieval", config, cache, transport=..., observer=...)``.
    """

    async def candidates(
        self,
        req: CandidatesRequest,
        deadline: Deadline,
        *,
        headers: Mapping[str, str] | None = None,
        reserve_s: float = DEFAULT_RESERVE_S,
    ) -> Fetched[CandidatesResponse]:
        """Candidates for one strategy, in the generator's order (cached by request)."""
        return await self.call(
            "candidates",
            "POST",
            "/v1/candidates",
            CandidatesResponse,
            deadline,
            json=req,
            headers=headers,
            reserve_s=reserve_s,
            cache_key=self.cache_key("candidates", *candidates_cache_parts(req)),
        )

    async def candidates_many(
        self,
        reqs: Sequence[CandidatesRequest],
        deadline: Deadline,
        *,
        headers: Mapping[str, str] | None = None,
        reserve_s: float = DEFAULT_RESERVE_S,
    ) -> list[Fetched[CandidatesResponse] | BackendError]:
        """Candidates for several strategies: cached ones from the cache, the rest in one
        ``POST /v1/candidates:batch`` (per 16), each cached under its own key.

        One result per request, in order; a failure is returned, not raised, and a request
        with a stale entry gets that entry instead (as :meth:`candidates` would).
        """
        self._ensure_open()
        started = time.perf_counter()
        ttl = self.config.cache_ttl_s
        keys = [self.cache_key("candidates", *candidates_cache_parts(r)) for r in reqs]
        results: list[Fetched[CandidatesResponse] | BackendError | None] = [None] * len(reqs)
        stale: dict[int, CandidatesResponse] = {}
        if ttl is not None:
            found = await self.cache.get_many(keys, ttl)
            for n, key in enumerate(keys):
                entry = found.get(key)
                value = _revalidate(CandidatesResponse, entry[0]) if entry else None
                if value is None or entry is None:
                    continue
                if entry[1]:
                    results[n] = self._done("candidates", started, "ok", CacheResult.HIT, 0, value)
                else:
                    stale[n] = value
        missing = [n for n, result in enumerate(results) if result is None]
        for chunk in (
            missing[i : i + MAX_BATCH_REQUESTS] for i in range(0, len(missing), MAX_BATCH_REQUESTS)
        ):
            await self._fetch_batch(
                [reqs[n] for n in chunk], chunk, keys, stale, results, deadline, headers, reserve_s
            )
        return [r for r in results if r is not None]

    async def _fetch_batch(
        self,
        batch: list[CandidatesRequest],
        slots: list[int],
        keys: list[str],
        stale: Mapping[int, CandidatesResponse],
        results: list[Fetched[CandidatesResponse] | BackendError | None],
        deadline: Deadline,
        headers: Mapping[str, str] | None,
        reserve_s: float,
    ) -> None:
        """One batch call; ``results[slot]`` gets each request's answer, its stale entry
        when the call failed and one is kept, or the error."""
        started = time.perf_counter()
        cache = CacheResult.MISS if self.config.cache_ttl_s is not None else CacheResult.BYPASS
        try:
            fetched = await self.call(
                "candidates:batch",
                "POST",
                "/v1/candidates:batch",
                CandidatesBatchResponse,
                deadline,
                json=CandidatesBatchRequest(requests=batch),
                headers=headers,
                reserve_s=reserve_s,
            )
            responses = fetched.value.responses
            if len(responses) != len(batch):
                raise BackendMalformed(
                    self.name, "candidates:batch", f"{len(responses)} answers to {len(batch)}"
                )
        except BackendError as exc:
            for n in slots:
                if n in stale and not isinstance(exc, BackendRejected):
                    results[n] = self._done(
                        "candidates",
                        started,
                        exc.outcome,
                        CacheResult.STALE,
                        exc.attempts,
                        stale[n],
                    )
                else:
                    self._observe("candidates", started, exc.outcome, cache, exc.attempts)
                    results[n] = exc
            return
        ttl = self.config.cache_ttl_s
        if ttl is not None:
            await self.cache.set_many(
                {
                    keys[n]: r if self.cache.stores_objects else r.model_dump(mode="json")
                    for n, r in zip(slots, responses, strict=True)
                },
                ttl,
                stale_ttl_s=self.config.stale_ttl_s,
            )
        for n, response in zip(slots, responses, strict=True):
            results[n] = self._done("candidates", started, "ok", cache, fetched.attempts, response)
