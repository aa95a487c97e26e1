"""Retrieval backend: candidate generation (``POST /v1/candidates``, ``…:batch``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from clients.base import DEFAULT_RESERVE_S, BackendClient
from clients.batching import BatchEndpoint, fetch_many
from clients.contracts.retrieval import (
    MAX_BATCH_REQUESTS,
    CandidatesBatchRequest,
    CandidatesBatchResponse,
    CandidatesRequest,
    CandidatesResponse,
)
from clients.deadline import Deadline
from clients.errors import BackendError
from clients.results import Fetched

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


CANDIDATES_BATCH: BatchEndpoint[CandidatesRequest, CandidatesResponse, CandidatesBatchResponse] = (
    BatchEndpoint(
        endpoint="candidates",
        path="/v1/candidates:batch",
        response=CandidatesResponse,
        batch_response=CandidatesBatchResponse,
        wrap=lambda reqs: CandidatesBatchRequest(requests=reqs),
        unwrap=lambda batch: batch.responses,
        cache_parts=candidates_cache_parts,
        max_requests=MAX_BATCH_REQUESTS,
    )
)
"""``POST /v1/candidates:batch``, each request cached as :meth:`RetrievalClient.candidates`."""


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
        with a stale entry gets that entry instead (as :meth:`candidates` would). See
        :func:`clients.batching.fetch_many`.
        """
        return await fetch_many(
            self, CANDIDATES_BATCH, reqs, deadline, headers=headers, reserve_s=reserve_s
        )
