"""Bandit backend: exploration decisions and their rewards."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from clients.base import DEFAULT_RESERVE_S, BackendClient
from clients.batching import BatchEndpoint, fetch_many
from clients.contracts.bandit import (
    MAX_BATCH_REQUESTS,
    DecideBatchRequest,
    DecideBatchResponse,
    DecideRequest,
    DecideResponse,
    RewardRequest,
)
from clients.deadline import Deadline
from clients.errors import BackendError
from clients.results import Fetched

__all__ = ["BanditClient", "decide_cache_parts"]


def decide_cache_parts(req: DecideRequest) -> list[object]:
    """What a decision depends on, for its cache key.

    The reference bandit's draws are sticky per decision point, viewer (the user, else the
    device) and local hour, so within the hour it would answer a repeat request with the
    same order; the cache key follows that, plus the arms offered and the platform (the
    viewer's segment). A viewer with neither user nor device id shares nobody's decision:
    the key holds the request's own decision id, so it is never found again. Location and
    the exact minute are left out, as the backend leaves them out.
    """
    viewer: list[object] = [req.user_id, req.device_id]
    if req.user_id is None and req.device_id is None:
        viewer.append(req.decision_id)
    return [
        req.decision_point,
        list(req.arms),
        *viewer,
        req.context.platform,
        req.context.city,
        None
        if req.context.city
        else (round(req.context.location.lat, 2), round(req.context.location.lon, 2)),
        req.context.local_time[:13],
    ]


DECIDE_BATCH: BatchEndpoint[DecideRequest, DecideResponse, DecideBatchResponse] = BatchEndpoint(
    endpoint="decide",
    path="/v1/decide:batch",
    response=DecideResponse,
    batch_response=DecideBatchResponse,
    wrap=lambda reqs: DecideBatchRequest(requests=reqs),
    unwrap=lambda batch: batch.responses,
    cache_parts=decide_cache_parts,
    max_requests=MAX_BATCH_REQUESTS,
    idempotent=False,  # every batch is new decisions: never retried, never shared
)
"""``POST /v1/decide:batch``, each decision cached as :meth:`BanditClient.decide` caches it."""


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

    async def decide_many(
        self,
        reqs: Sequence[DecideRequest],
        deadline: Deadline,
        *,
        headers: Mapping[str, str] | None = None,
        reserve_s: float = DEFAULT_RESERVE_S,
    ) -> list[Fetched[DecideResponse] | BackendError]:
        """Several decisions (e.g. a page's section order and banners): cached ones from the
        cache, the rest in one ``POST /v1/decide:batch`` (per 16), each cached under the key
        :meth:`decide` uses, so single and batched decisions share entries.

        One result per request, in order; a failure is returned, not raised, and a request
        with a stale entry gets that entry instead (as :meth:`decide` would). Each answer is
        a decision of its own (``decision_id``, propensities), logged by the backend as if
        asked alone. Not retried. See :func:`clients.batching.fetch_many`.
        """
        return await fetch_many(
            self, DECIDE_BATCH, reqs, deadline, headers=headers, reserve_s=reserve_s
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
