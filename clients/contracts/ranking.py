"""Ranking contract: ``POST /v1/rank`` and ``POST /v1/rank:batch``."""

from __future__ import annotations

from pydantic import Field

from clients.contracts.common import Contract, EntityKind, RequestContext, Surface


class RankRequest(Contract):
    """Score ``candidate_ids`` of one ``kind`` for one user (or anonymously).

    ``variant`` selects the experiment's model; an unknown variant is a 400, not a silent
    fallback, so a mis-configured experiment is noticed.
    """

    surface: Surface
    kind: EntityKind = EntityKind.VENUE
    user_id: str | None = None
    context: RequestContext
    candidate_ids: list[str] = Field(max_length=2000)
    variant: str | None = None


class ScoredId(Contract):
    """A candidate id and its model score (higher is better)."""

    id: str
    score: float


class RankResponse(Contract):
    """One score per requested candidate, no extra ids, with the model that produced them."""

    scores: list[ScoredId]
    model_version: str


MAX_BATCH_REQUESTS = 16
"""At most this many rank requests in one ``POST /v1/rank:batch``."""


class RankBatchRequest(Contract):
    """Several rank requests in one round trip (``POST /v1/rank:batch``).

    A page ranks each entity kind it shows (venues, brands, categories…): one HTTP exchange
    instead of one per kind. Each request is answered exactly as ``POST /v1/rank`` would; one
    request the single endpoint would refuse (an unknown ``variant`` is a 400, a bad
    ``local_time`` a 422) fails the whole batch with that status.
    """

    requests: list[RankRequest] = Field(min_length=1, max_length=MAX_BATCH_REQUESTS)


class RankBatchResponse(Contract):
    """One response per request, in request order."""

    responses: list[RankResponse]
