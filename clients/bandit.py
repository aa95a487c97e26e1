"""Bandit backend: exploration decisions and their rewards."""

from __future__ import annotations

from collections.abc import Mapping

from clients.base import DEFAULT_RESERVE_S, BackendClient
from clients.contracts.bandit import DecideRequest, DecideResponse, RewardRequest
from clients.deadline import Deadline
from clients.results import Fetched

__all__ = ["BanditClient"]


class BanditClient(BackendClient):
    """Typed client of the bandit backend.

    Decisions are never cached, shared or retried: each is a fresh draw with its own
    ``decision_id`` that rewards refer to.
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
