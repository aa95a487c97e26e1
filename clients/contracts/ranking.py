"""Ranking contract: ``POST /v1/rank``."""

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
