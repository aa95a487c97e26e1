"""Turning catalog entities into page objects, applying the per-entity business rules.

Rules that depend on the viewer's situation live here, in one place: a venue is shown only
if it delivers to the viewer's location; whether it is open is computed from its opening
hours in its own time zone; items stay within the venue being looked at and never repeat
what is already in the cart.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from math import asin, cos, radians, sin, sqrt
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
from resolvers.geo import EARTH_RADIUS_M
from resolvers.hours import hours_key, is_open_key, minute_of_week, open_at, weekly_schedule
from resolvers.page import Banner, Brand, Category, Entity, Item, Money, Venue

CatalogEntity = VenueEntity | ItemEntity | BrandEntity | CategoryEntity | BannerEntity


class _PreparedVenue:
    """What a venue's page object needs that does not depend on the viewer: its position in
    radians, its weekly schedule and its brand object, computed once per catalog entity.

    The catalog's memory cache hands out the same entity object until it is fetched again,
    so a venue shown to thousands of viewers is prepared once, not once per page.
    """

    __slots__ = ("brand", "cos_lat", "entity", "lat", "schedule", "tags")

    def __init__(self, entity: VenueEntity) -> None:
        self.entity = entity
        self.lat = radians(entity.lat)
        self.cos_lat = cos(self.lat)
        self.schedule = weekly_schedule(hours_key(entity.opening_hours))
        self.brand = brand(entity.brand) if entity.brand else None
        # shared by every page showing the venue: page objects are never mutated
        self.tags = list(entity.tags)


_PREPARED_MAX = 50_000
_prepared: dict[str, _PreparedVenue] = {}


def _prepare(entity: VenueEntity) -> _PreparedVenue:
    """The venue's viewer-independent facts, memoised per entity object (bounded)."""
    prepared = _prepared.get(entity.id)
    if prepared is None or prepared.entity is not entity:
        if len(_prepared) >= _PREPARED_MAX:
            _prepared.clear()  # a refetched catalog: start again rather than track ages
        prepared = _prepared[entity.id] = _PreparedVenue(entity)
    return prepared


class _VenueFacts:
    """What a venue's page object depends on besides the venue: computed once per request."""

    __slots__ = ("distance", "open_now", "prepared")

    def __init__(self, prepared: _PreparedVenue, distance: float) -> None:
        self.prepared = prepared
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
    _here: tuple[float, float] = field(default=(0.0, 0.0), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lat = radians(self.location.lat)
        object.__setattr__(self, "_here", (lat, cos(lat)))

    def _facts(self, entity: VenueEntity) -> _VenueFacts:
        """The venue's distance from the viewer, memoised per entity object.

        The same haversine as :func:`resolvers.geo.distance_m`, operation for operation (so
        the metres are the same to the last bit), with the viewer's and the venue's
        trigonometry done once instead of per call.
        """
        facts = self._venues.get(entity.id)
        if facts is None or facts.prepared.entity is not entity:
            prepared = _prepare(entity)
            p1, cos_p1 = self._here
            a = (
                sin((prepared.lat - p1) / 2) ** 2
                + cos_p1 * prepared.cos_lat * sin(radians(entity.lon - self.location.lon) / 2) ** 2
            )
            distance = 2 * EARTH_RADIUS_M * asin(min(1.0, sqrt(a)))
            facts = self._venues[entity.id] = _VenueFacts(prepared, distance)
        return facts

    def prime(self, entities: Iterable[CatalogEntity]) -> None:
        """Work out ahead of need each venue's distance and, if it delivers here, whether it
        is open: the engine calls this when the catalog answers, while the ranking call is
        still in flight, so the CPU overlaps that wait instead of following it.

        A venue whose hours or time zone cannot be read is left as it is: materialising it
        raises as it always did, and only if it is shown.
        """
        for entity in entities:
            if isinstance(entity, VenueEntity):
                facts = self._facts(entity)
                if facts.distance <= entity.delivery_radius_m:
                    with contextlib.suppress(Exception):
                        self._open_now(facts)

    def _open_now(self, facts: _VenueFacts) -> bool:
        """Whether the venue is open now in its own time zone, memoised with its facts."""
        if facts.open_now is None:
            prepared = facts.prepared
            minute = self._minute_of_week(prepared.entity.timezone)
            if prepared.schedule is None:  # an interval that does not parse: the slow path
                facts.open_now = is_open_key(hours_key(prepared.entity.opening_hours), minute)
            else:
                facts.open_now = open_at(prepared.schedule, minute)
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
    prepared = facts.prepared
    return Venue(
        id=entity.id,
        name=entity.name,
        slug=entity.slug,
        price_level=entity.price_level,
        tags=prepared.tags,
        is_open=audience._open_now(facts),
        rating=entity.rating,
        delivery_minutes=entity.delivery_minutes,
        image_url=entity.image_url,
        distance_meters=round(distance),
        brand=prepared.brand,
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
    if kind is EntityKind.VENUE:
        return _venues(ids, entities, audience, reasons)
    out: list[Entity] = []
    for entity_id, entity in _first_found(ids, entities):
        obj = _one(kind, entity, audience, reasons.get(entity_id))
        if obj is not None:
            out.append(obj)
    return out


def _first_found(
    ids: Sequence[str], entities: Mapping[str, CatalogEntity]
) -> Iterator[tuple[str, CatalogEntity]]:
    """Each id's entity, in order, once per id, skipping ids the catalog does not know."""
    seen: set[str] = set()
    for entity_id in ids:
        if entity_id in seen:
            continue
        seen.add(entity_id)
        entity = entities.get(entity_id)
        if entity is not None:
            yield entity_id, entity


def _venues(
    ids: Sequence[str],
    entities: Mapping[str, CatalogEntity],
    audience: Audience,
    reasons: Mapping[str, str | None],
) -> list[Entity]:
    """:func:`materialise` for venues: open ones first, each group in the given order."""
    open_now: list[Entity] = []
    closed: list[Entity] = []
    for entity_id, entity in _first_found(ids, entities):
        if not isinstance(entity, VenueEntity):
            continue
        obj = venue(entity, audience, reasons.get(entity_id))
        if obj is not None:
            (open_now if obj.is_open else closed).append(obj)
    open_now += closed
    return open_now


def entity_ids(objs: Iterable[Entity]) -> list[str]:
    """Ids of page objects (categories are identified by slug)."""
    return [o.slug if isinstance(o, Category) else o.id for o in objs]
