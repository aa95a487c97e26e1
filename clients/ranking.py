"""Ranking backend: model scores for candidates (``POST /v1/rank``, ``…:batch``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from clients.base import DEFAULT_RESERVE_S, BackendClient
from clients.batching import BatchEndpoint, fetch_many
from clients.contracts.ranking import (
    MAX_BATCH_REQUESTS,
    RankBatchRequest,
    RankBatchResponse,
    RankRequest,
    RankResponse,
)
from clients.deadline import Deadline
from clients.errors import BackendError
from clients.results import Fetched

__all__ = ["RankingClient", "rank_cache_parts"]


def _local_hour(local_time: str) -> str:
    try:
        return str(datetime.fromisoformat(local_time).hour)
    except ValueError:
        return local_time[:13]


def rank_cache_parts(req: RankRequest) -> list[object]:
    """What a ranking result depends on, for its cache key.

    Variant (the experiment's model), surface, kind, user, the candidate set (order does not
    matter: scores are per id) and the local hour (models condition on time of day); the
    exact minute and location are deliberately left out so nearby requests share entries.
    """
    return [
        req.variant,
        req.surface.value,
        req.kind.value,
        req.user_id,
        sorted(set(req.candidate_ids)),
        _local_hour(req.context.local_time),
        req.context.city,
    ]


RANK_BATCH: BatchEndpoint[RankRequest, RankResponse, RankBatchResponse] = BatchEndpoint(
    endpoint="rank",
    path="/v1/rank:batch",
    response=RankResponse,
    batch_response=RankBatchResponse,
    wrap=lambda reqs: RankBatchRequest(requests=reqs),
    unwrap=lambda batch: batch.responses,
    cache_parts=rank_cache_parts,
    max_requests=MAX_BATCH_REQUESTS,
)
"""``POST /v1/rank:batch``, each request cached as :meth:`RankingClient.rank` caches it."""


class RankingClient(BackendClient):
    """Typed client of the ranking backend; responses cached (see :func:`rank_cache_parts`)."""

    async def rank(
        self,
        req: RankRequest,
        deadline: Deadline,
        *,
        headers: Mapping[str, str] | None = None,
        reserve_s: float = DEFAULT_RESERVE_S,
    ) -> Fetched[RankResponse]:
        """Scores for ``req.candidate_ids`` (one per id) and the model version."""
        return await self.call(
            "rank",
            "POST",
            "/v1/rank",
            RankResponse,
            deadline,
            json=req,
            headers=headers,
            reserve_s=reserve_s,
            cache_key=self.cache_key("rank", *rank_cache_parts(req)),
        )

    async def rank_many(
        self,
        reqs: Sequence[RankRequest],
        deadline: Deadline,
        *,
        headers: Mapping[str, str] | None = None,
        reserve_s: float = DEFAULT_RESERVE_S,
    ) -> list[Fetched[RankResponse] | BackendError]:
        """Scores for several requests (e.g. one per entity kind of a page): cached ones
        from the cache, the rest in one ``POST /v1/rank:batch`` (per 16), each cached under
        the key :meth:`rank` uses, so single and batched calls share entries.

        One result per request, in order; a failure is returned, not raised, and a request
        with a stale entry gets that entry instead (as :meth:`rank` would). One request the
        backend refuses (an unknown variant: 400) fails its whole batch as
        :class:`~clients.errors.BackendRejected`. See :func:`clients.batching.fetch_many`.
        """
        return await fetch_many(
            self, RANK_BATCH, reqs, deadline, headers=headers, reserve_s=reserve_s
        )
