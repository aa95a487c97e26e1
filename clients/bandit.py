"""Bandit backend: exploration decisions and their rewards."""

from __future__ import annotations

from collections.abc import Mapping

from clients.base import DEFAULT_RESERVE_S, BackendClient
from clients.contracts.bandit import DecideRequest, DecideResponse, RewardRequest
from clients.deadline import Deadline
from clients.results import Fetched

__all__ = ["BanditClient", "decide_cache_parts"]


def decide_cache_parts(req: DecideRequest) -> list[object]:
    """What a decision depends on, for its cache key.

    The reference bandit's draws are sticky per decision point, viewer (anonymous viewers
    share their city's) and local hour, so within the hour it would answer a repeat request
    with the same order; the cache key follows that, plus the arms offered. Location and
    the exact minute are left out, as the backend leaves them out.
    """
    return [
        req.decision_point,
        list(req.arms),
        req.user_id,
        req.context.city,
        None
        if req.context.city
        else (round(req.context.location.lat, 2), round(req.context.location.lon, 2)),
        req.context.local_time[:13],
    ]


class BanditClient(BackendClient):
    """Typed client of the bandit backend.

    Decisions are cached when the backend has a ``cache_ttl_s`` (keyed by
    :func:`decide_cache_parts`): a page refresh then reuses the decision, and its
    ``decision_id``, instead of asking again. That costs the gateway one backend round trip
    less per page and stays honest for off-policy evaluation: every impression is still
    logged with the decision's propensities, and rewards are counted per event, so several
    impressions may reward one decision. The TTL bounds how long a learned update takes to
    reach a viewer who keeps refreshing. Decisions are never retried.
    """

    async def decide(
        self,
        req: DecideRequest,
        deadline: Deadline,
        *,
        headers: Mapping[str, str] | None = None,
        reserve_s: float = DEFAULT_RESERVE_S,
    ) -> Fetched[DecideResponse]:
        """``POST /v1/decide``: an ordering of ``req.arms`` with propensities."""
        return await self.call(
            "decide",
            "POST",
            "/v1/decide",
            DecideResponse,
            deadline,
            json=req,
            headers=headers,
            reserve_s=reserve_s,
            idempotent=False,
            cache_key=self.cache_key("decide", *decide_cache_parts(req)),
        )

    async def reward(
        self,
        req: RewardRequest,
        deadline: Deadline,
        *,
        headers: Mapping[str, str] | None = None,
        reserve_s: float = DEFAULT_RESERVE_S,
    ) -> None:
        """``POST /v1/rewards``, answered 202. Not retried."""
        await self.call_no_content(
            "reward",
            "POST",
            "/v1/rewards",
            deadline,
            json=req,
            headers=headers,
            reserve_s=reserve_s,
            expect_status=202,
        )
