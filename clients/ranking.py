"""Ranking backend: model scores for candidates (``POST /v1/rank``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from clients.base import DEFAULT_RESERVE_S, BackendClient
from clients.contracts.ranking import RankRequest, RankResponse
from clients.deadline import Deadline
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
