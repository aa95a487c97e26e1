"""Retrieval contract: ``POST /v1/candidates`` and ``POST /v1/candidates:batch``."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from clients.contracts.common import Contract, EntityKind, IsoDateTime, Location, Surface


class RetrievalStrategy(StrEnum):
    """Candidate generators the retrieval service offers.

    Each yields ids of one entity kind: venues for ``for_you``, ``order_again``, ``new``,
    ``nearby`` and ``category``; items for ``co_purchase`` and ``venue_items``; brands for
    ``brands``; category slugs for ``categories``.
    """

    FOR_YOU = "for_you"
    ORDER_AGAIN = "order_again"
    NEW = "new"
    NEARBY = "nearby"
    CATEGORY = "category"
    CO_PURCHASE = "co_purchase"
    VENUE_ITEMS = "venue_items"
    BRANDS = "brands"
    CATEGORIES = "categories"


STRATEGY_KIND: dict[RetrievalStrategy, EntityKind] = {
    RetrievalStrategy.FOR_YOU: EntityKind.VENUE,
    RetrievalStrategy.ORDER_AGAIN: EntityKind.VENUE,
    RetrievalStrategy.NEW: EntityKind.VENUE,
    RetrievalStrategy.NEARBY: EntityKind.VENUE,
    RetrievalStrategy.CATEGORY: EntityKind.VENUE,
    RetrievalStrategy.CO_PURCHASE: EntityKind.ITEM,
    RetrievalStrategy.VENUE_ITEMS: EntityKind.ITEM,
    RetrievalStrategy.BRANDS: EntityKind.BRAND,
    RetrievalStrategy.CATEGORIES: EntityKind.CATEGORY,
}


class CandidatesRequest(Contract):
    """Ask for up to ``limit`` candidates of one strategy around ``location``.

    ``local_time`` (ISO 8601 with offset) lets the service apply open-now filtering
    consistently with the gateway's own clock.
    """

    surface: Surface
    strategy: RetrievalStrategy
    user_id: str | None = None
    location: Location
    local_time: IsoDateTime | None = None
    category: str | None = None
    venue_id: str | None = None
    cart_item_ids: list[str] = Field(default_factory=list)
    limit: int = Field(default=50, ge=1, le=500)


class Candidate(Contract):
    """One candidate id with the generator's own score and a human-readable reason."""

    id: str
    score: float
    reason: str | None = None


class CandidatesResponse(Contract):
    """Candidates in the generator's preferred order (best first)."""

    candidates: list[Candidate]
    source_version: str


MAX_BATCH_REQUESTS = 16
"""At most this many candidate requests in one ``POST /v1/candidates:batch``."""


class CandidatesBatchRequest(Contract):
    """Several candidate requests in one round trip (``POST /v1/candidates:batch``).

    A page asks for every section's strategy at once: one HTTP exchange instead of one per
    section, which is most of the gateway's CPU for a page built from scratch. Each request
    is answered exactly as ``POST /v1/candidates`` would; one invalid request (e.g. a bad
    ``local_time``) fails the whole batch with the same status.
    """

    requests: list[CandidatesRequest] = Field(min_length=1, max_length=MAX_BATCH_REQUESTS)


class CandidatesBatchResponse(Contract):
    """One response per request, in request order."""

    responses: list[CandidatesResponse]
