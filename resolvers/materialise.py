"""Turning catalog entities into page objects, applying the per-entity business rules.

Rules that depend on the viewer's situation live here, in one place: a venue is shown only
if it delivers to the viewer's location; whether it is open is computed from its opening
hours in its own time zone; items stay within the venue being looked at and never repeat
what is already in the cart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from clients.contracts import (
    BannerEntity,
    BrandEntity,
    CategoryEntity,
    EntityKind,
    ItemEntity,
    Location,
    VenueEntity,
)
from resolvers.geo import distance_m
from resolvers.hours import hours_key, is_open_key, minute_of_week
from resolvers.page import Banner, Brand, Category, Entity, Item, Money, Venue

CatalogEntity = VenueEntity | ItemEntity | BrandEntity | CategoryEntity | BannerEntity


class _VenueFacts:
    """What a venue's page object depends on besides the venue: computed once per request."""

    __slots__ = ("distance", "entity", "open_now")

    def __init__(self, entity: VenueEntity, distance: float) -> None:
        self.entity = entity
        self.distance = distance
        self.open_now: bool | None = None  # computed only for venues that are shown


@dataclass(frozen=True, slots=True)
class Audience:
    """Where and when the page is seen, and what must be excluded from it.

    It also memoises, for the request it belongs to, the local time in each venue time zone
    and each venue's distance and open-now (the same venue appears in several sections of a
    page). The memo is not part of the value: not compared, hashed, shown or passed in.
    """

    location: Location
    now: datetime
    venue_id: str | None = None
    excluded_ids: frozenset[str] = frozenset()
    _venues: dict[str, _VenueFacts] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _minutes: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def _facts(self, entity: VenueEntity) -> _VenueFacts:
        """The venue's distance from the viewer, memoised per entity object."""
        facts = self._venues.get(entity.id)
        if facts is None or facts.entity is not entity:
            here = self.location
            facts = _VenueFacts(entity, distance_m(here.lat, here.lon, entity.lat, entity.lon))
            self._venues[entity.id] = facts
        return facts

    def _open_now(self, facts: _VenueFacts) -> bool:
        """Whether the venue is open now in its own time zone, memoised with its facts."""
        if facts.open_now is None:
            entity = facts.entity
            minute = self._minute_of_week(entity.timezone)
            facts.open_now = is_open_key(hours_key(entity.opening_hours), minute)
        return facts.open_now

    def _minute_of_week(self, timezone: str) -> int:
        """``now`` as a minute of the week on ``timezone``'s wall clock, once per zone."""
        minute = self._minutes.get(timezone)
        if minute is None:
            minute = minute_of_week(self.now.astimezone(ZoneInfo(timezone)))
            self._minutes[timezone] = minute
        return minute


def brand(entity: BrandEntity) -> Brand:
    return Brand(id=entity.id, name=entity.name, logo_url=entity.logo_url)


def venue(
    entity: VenueEntity, audience: Audience, reason: str | None, *, require_delivery: bool = True
) -> Venue | None:
    """The venue as this viewer sees it, or None when it does not deliver to them.

    The venue page shows the venue even out of range (the viewer navigated to it);
    carousels only show venues that can actually deliver.
    """
    facts = audience._facts(entity)
    distance = facts.distance
    if require_delivery and distance > entity.delivery_radius_m:
        return None
    open_now = audience._open_now(facts)
    return Venue(
        id=entity.id,
        name=entity.name,
        slug=entity.slug,
        price_level=entity.price_level,
        tags=list(entity.tags),
        is_open=open_now,
        rating=entity.rating,
        delivery_minutes=entity.delivery_minutes,
        image_url=entity.image_url,
        distance_meters=round(distance),
        brand=brand(entity.brand) if entity.brand else None,
        reason=reason,
    )


def item(entity: ItemEntity, audience: Audience, reason: str | None) -> Item | None:
    """The item, or None when it belongs to another venue or is already in the cart."""
    if audience.venue_id is not None and entity.venue_id != audience.venue_id:
        return None
    if entity.id in audience.excluded_ids:
        return None
    return Item(
        id=entity.id,
        name=entity.name,
        price=Money(amount=entity.price.amount, currency=entity.price.currency),
        venue_id=entity.venue_id,
        image_url=entity.image_url,
        reason=reason,
    )


def _one(
    kind: EntityKind, entity: CatalogEntity, audience: Audience, reason: str | None
) -> Entity | None:
    if kind is EntityKind.VENUE and isinstance(entity, VenueEntity):
        return venue(entity, audience, reason)
    if kind is EntityKind.ITEM and isinstance(entity, ItemEntity):
        return item(entity, audience, reason)
    if kind is EntityKind.BRAND and isinstance(entity, BrandEntity):
        return brand(entity)
    if kind is EntityKind.CATEGORY and isinstance(entity, CategoryEntity):
        return Category(slug=entity.slug, name=entity.name, image_url=entity.image_url)
    if kind is EntityKind.BANNER and isinstance(entity, BannerEntity):
        return Banner(
            id=entity.id,
            title=entity.title,
            target_url=entity.target_url,
            image_url=entity.image_url,
        )
    return None


def materialise(
    kind: EntityKind,
    ids: Sequence[str],
    entities: Mapping[str, CatalogEntity],
    audience: Audience,
    reasons: Mapping[str, str | None] | None = None,
) -> list[Entity]:
    """Page objects for ``ids`` in order, dropping unknown and ineligible ones.

    Venues that are closed now keep their relative order but go after the open ones.
    """
    reasons = reasons or {}
    out: list[Entity] = []
    seen: set[str] = set()
    for entity_id in ids:
        if entity_id in seen:
            continue
        seen.add(entity_id)
        entity = entities.get(entity_id)
        if entity is None:
            continue
        obj = _one(kind, entity, audience, reasons.get(entity_id))
        if obj is not None:
            out.append(obj)
    if kind is EntityKind.VENUE:
        out.sort(key=lambda v: not v.is_open if isinstance(v, Venue) else False)
    return out


def entity_ids(objs: Iterable[Entity]) -> list[str]:
    """Ids of page objects (categories are identified by slug)."""
    return [o.slug if isinstance(o, Category) else o.id for o in objs]
