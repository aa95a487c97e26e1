"""Entity references: venues, items and brands by id, for a federation router's ``_entities``.

Another subgraph holding a ``Venue`` by its key asks this gateway for the venue's fields. The
answer goes through the same catalog client as a page (entity cache, single-flight, retries,
breaker, stale entries on failure), in one batch per kind however many references the router
sends, under a deadline like a page's. There is no location in a reference, so a venue comes
back without a distance; open-now is worked out in the venue's own time zone as on a page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from enum import Enum

from clients.contracts import Location
from clients.contracts.common import Surface
from clients.deadline import Deadline
from clients.errors import BackendError
from resolvers import materialise as mat
from resolvers.engine import Services
from resolvers.materialise import Audience
from resolvers.page import Brand, Item, Venue
from resolvers.request import RequestScope

Reference = Venue | Item | Brand

_NOWHERE = Location(lat=0.0, lon=0.0)
"""A stand-in location: a reference has none, and the distance it gives is dropped."""


class EntityKind(Enum):
    """The entity types this subgraph resolves by key, by GraphQL type name."""

    VENUE = "Venue"
    ITEM = "Item"
    BRAND = "Brand"


class References:
    """Resolves entity references through the catalog client, one batch per kind."""

    def __init__(self, services: Services) -> None:
        self._services = services

    def _deadline(self, scope: RequestScope) -> Deadline:
        """The venue page's budget (a reference is that kind of lookup), or the caller's
        ``X-Request-Timeout-Ms`` when shorter, from the request's arrival."""
        return scope.page_deadline(
            self._services.plans.surface(Surface.VENUE_PAGE).budget_ms / 1000
        )

    async def resolve(
        self, kind: EntityKind, ids: Sequence[str], scope: RequestScope
    ) -> dict[str, Reference] | BackendError:
        """The page objects of ``ids`` that the catalog knows; a ``BackendError`` when the
        catalog failed and had no stale entry to offer for them."""
        catalog = self._services.backends.catalog
        deadline = self._deadline(scope)
        reserve_s = self._services.plans.reserve_ms / 1000
        wanted = list(dict.fromkeys(ids))
        audience = Audience(location=_NOWHERE, now=datetime.now(UTC))
        try:
            if kind is EntityKind.VENUE:
                venues = (await catalog.venues(wanted, deadline, reserve_s=reserve_s)).value
                out: dict[str, Reference] = {}
                for venue_id, entity in venues.items():
                    venue = mat.venue(entity, audience, None, require_delivery=False)
                    if venue is not None:
                        out[venue_id] = replace(venue, distance_meters=None)
                return out
            if kind is EntityKind.ITEM:
                items = (await catalog.items(wanted, deadline, reserve_s=reserve_s)).value
                return {
                    item_id: item
                    for item_id, entity in items.items()
                    if (item := mat.item(entity, audience, None)) is not None
                }
            brands = (await catalog.brands(wanted, deadline, reserve_s=reserve_s)).value
            return {brand_id: mat.brand(entity) for brand_id, entity in brands.items()}
        except BackendError as exc:
            return exc
