"""Materialisation: the per-request memo of distance, local time and open-now changes
nothing — pages equal those of the straightforward per-venue computation (the oracle below,
the code as it was before the memo)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clients.contracts import BrandEntity, EntityKind, Location, OpeningInterval, VenueEntity
from resolvers.geo import distance_m
from resolvers.materialise import Audience, CatalogEntity, materialise, venue
from resolvers.page import Brand, Entity, Venue
from tests.resolvers.test_hours import oracle_is_open

HELSINKI = Location(lat=60.1699, lon=24.9384)
NOW = datetime(2026, 11, 27, 19, 30, tzinfo=UTC)  # Friday 21:30 in Helsinki

# -- the oracle: venue() and materialise() for venues as they were before the memo --------------


def oracle_venue(
    entity: VenueEntity, location: Location, now: datetime, reason: str | None, delivery: bool
) -> Venue | None:
    distance = distance_m(location.lat, location.lon, entity.lat, entity.lon)
    if delivery and distance > entity.delivery_radius_m:
        return None
    local = now.astimezone(ZoneInfo(entity.timezone))
    b = entity.brand
    return Venue(
        id=entity.id,
        name=entity.name,
        slug=entity.slug,
        price_level=entity.price_level,
        tags=list(entity.tags),
        is_open=oracle_is_open(entity.opening_hours, local),
        rating=entity.rating,
        delivery_minutes=entity.delivery_minutes,
        image_url=entity.image_url,
        distance_meters=round(distance),
        brand=Brand(id=b.id, name=b.name, logo_url=b.logo_url) if b else None,
        reason=reason,
    )


def oracle_materialise(
    ids: Sequence[str],
    entities: Mapping[str, VenueEntity],
    location: Location,
    now: datetime,
    reasons: Mapping[str, str | None],
) -> list[Venue]:
    out: list[Venue] = []
    seen: set[str] = set()
    for entity_id in ids:
        if entity_id in seen:
            continue
        seen.add(entity_id)
        entity = entities.get(entity_id)
        if entity is None:
            continue
        obj = oracle_venue(entity, location, now, reasons.get(entity_id), True)
        if obj is not None:
            out.append(obj)
    out.sort(key=lambda v: not v.is_open)
    return out


# -- strategies ---------------------------------------------------------------------------------

ZONES = ["Europe/Helsinki", "Europe/Stockholm", "America/New_York", "Asia/Kathmandu"]
hhmm = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 24), st.sampled_from([0, 30]))
interval = st.builds(OpeningInterval, weekday=st.integers(0, 6), opens=hhmm, closes=hhmm)


@st.composite
def venue_entities(draw: st.DrawFn, vid: str) -> VenueEntity:
    brand = draw(st.none() | st.just(BrandEntity(id="b1", name="Brand", logo_url="l")))
    return VenueEntity(
        id=vid,
        name=f"Venue {vid}",
        slug=vid,
        city="helsinki",
        lat=HELSINKI.lat + draw(st.floats(-0.06, 0.06)),
        lon=HELSINKI.lon + draw(st.floats(-0.1, 0.1)),
        delivery_radius_m=draw(st.sampled_from([2000, 4000, 6000])),
        timezone=draw(st.sampled_from(ZONES)),
        opening_hours=draw(st.lists(interval, max_size=8)),
        rating=8.0,
        delivery_minutes=25,
        price_level=2,
        tags=["pizza"],
        brand_id=brand.id if brand else None,
        brand=brand,
    )


@st.composite
def pages(
    draw: st.DrawFn,
) -> tuple[dict[str, VenueEntity], list[tuple[list[str], dict[str, str | None]]]]:
    ids = [f"v{n}" for n in range(draw(st.integers(1, 12)))]
    entities = {vid: draw(venue_entities(vid)) for vid in ids}
    known_or_not = st.sampled_from([*ids, "unknown"])
    sections = draw(
        st.lists(
            st.tuples(
                st.lists(known_or_not, max_size=20),
                st.dictionaries(known_or_not, st.none() | st.sampled_from(["a", "b"])),
            ),
            min_size=1,
            max_size=6,
        )
    )
    return entities, sections


# -- properties ---------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(page=pages(), minutes=st.integers(0, 60 * 24 * 7 * 30), primed=st.booleans())
def test_a_page_equals_the_per_venue_computation(
    page: tuple[dict[str, VenueEntity], list[tuple[list[str], dict[str, str | None]]]],
    minutes: int,
    primed: bool,
) -> None:
    entities, sections = page
    now = NOW + timedelta(minutes=minutes)
    audience = Audience(location=HELSINKI, now=now)  # one per request, shared by the sections
    catalog: dict[str, CatalogEntity] = dict(entities)
    if primed:  # as the engine does when the catalog answers before ranking
        audience.prime(catalog.values())
    for ids, reasons in sections:
        got = materialise(EntityKind.VENUE, ids, catalog, audience, reasons)
        assert got == oracle_materialise(ids, entities, HELSINKI, now, reasons)


# -- examples -----------------------------------------------------------------------------------


def _venue(vid: str = "v1", **changes: object) -> VenueEntity:
    values: dict[str, object] = {
        "id": vid,
        "name": "Venue",
        "slug": vid,
        "city": "helsinki",
        "lat": HELSINKI.lat + 0.01,
        "lon": HELSINKI.lon,
        "delivery_radius_m": 5000,
        "timezone": "Europe/Helsinki",
        "opening_hours": [OpeningInterval(weekday=4, opens="18:00", closes="02:00")],
        "price_level": 2,
    }
    values.update(changes)
    return VenueEntity.model_validate(values)


def test_closed_venues_go_last_in_their_order() -> None:
    closed: dict[str, object] = {"opening_hours": []}
    entities: dict[str, CatalogEntity] = {
        "a": _venue("a", **closed),
        "b": _venue("b"),
        "c": _venue("c", **closed),
        "d": _venue("d"),
        "far": _venue("far", lat=HELSINKI.lat + 1),
    }
    audience = Audience(location=HELSINKI, now=NOW)
    got = materialise(EntityKind.VENUE, ["a", "b", "far", "c", "b", "d"], entities, audience)
    assert [(v.id, v.is_open) for v in got if isinstance(v, Venue)] == [
        ("b", True),
        ("d", True),
        ("a", False),
        ("c", False),
    ]


def test_reasons_differ_per_section_for_the_same_venue() -> None:
    entities: dict[str, CatalogEntity] = {"v1": _venue()}
    audience = Audience(location=HELSINKI, now=NOW)
    first = materialise(EntityKind.VENUE, ["v1"], entities, audience, {"v1": "near you"})
    second = materialise(EntityKind.VENUE, ["v1"], entities, audience, {"v1": "popular"})
    assert [e.reason for e in first if isinstance(e, Venue)] == ["near you"]
    assert [e.reason for e in second if isinstance(e, Venue)] == ["popular"]


def test_another_entity_object_for_the_same_id_is_not_served_from_the_memo() -> None:
    """A re-hydrated venue (e.g. the stale step) with other hours or place is recomputed."""
    audience = Audience(location=HELSINKI, now=NOW)
    before = venue(_venue(), audience, None)
    moved = venue(_venue(opening_hours=[], lat=HELSINKI.lat + 0.02), audience, None)
    assert before is not None
    assert moved is not None
    assert before.is_open
    assert not moved.is_open
    assert moved.distance_meters == round(
        distance_m(HELSINKI.lat, HELSINKI.lon, HELSINKI.lat + 0.02, HELSINKI.lon)
    )


def test_out_of_range_venue_page_still_shows_the_venue() -> None:
    far = _venue(lat=HELSINKI.lat + 1)
    audience = Audience(location=HELSINKI, now=NOW)
    assert venue(far, audience, None) is None  # a carousel drops it …
    shown = venue(far, audience, None, require_delivery=False)  # … the venue page shows it
    assert shown == oracle_venue(far, HELSINKI, NOW, None, False)
    assert shown is not None
    assert shown.is_open


def test_time_zone_and_hours_are_only_read_for_venues_that_deliver() -> None:
    """As before: an unknown zone fails only a venue that is shown."""
    audience = Audience(location=HELSINKI, now=NOW)
    assert venue(_venue(lat=HELSINKI.lat + 1, timezone="Nowhere/Atlantis"), audience, None) is None
    with pytest.raises(ZoneInfoNotFoundError):
        venue(_venue(timezone="Nowhere/Atlantis"), audience, None)


def test_the_memo_is_not_part_of_the_audience_value() -> None:
    used = Audience(location=HELSINKI, now=NOW)
    venue(_venue(), used, None)
    fresh = Audience(location=HELSINKI, now=NOW)
    assert used == fresh
    assert hash(used) == hash(fresh)
    assert repr(used) == repr(fresh)


def test_items_and_other_kinds_are_untouched() -> None:
    entities: dict[str, CatalogEntity] = {"b1": BrandEntity(id="b1", name="Brand")}
    audience = Audience(location=HELSINKI, now=NOW)
    got: list[Entity] = materialise(EntityKind.BRAND, ["b1", "b1", "x"], entities, audience)
    assert got == [Brand(id="b1", name="Brand")]


def test_a_refetched_venue_is_prepared_again_for_later_requests() -> None:
    """The viewer-independent memo (schedule, brand, tags) follows the catalog's object: a
    venue fetched again with new hours is not shown with the old ones to the next viewer."""
    first = venue(_venue(), Audience(location=HELSINKI, now=NOW), None)
    refetched = venue(
        _venue(opening_hours=[], tags=["new"]), Audience(location=HELSINKI, now=NOW), None
    )
    assert first is not None
    assert refetched is not None
    assert first.is_open
    assert not refetched.is_open
    assert refetched.tags == ["new"]


def test_priming_while_ranking_is_out_changes_nothing_shown() -> None:
    """``prime`` (run when the catalog answers) only moves work earlier: the page is the
    same, and a venue whose zone cannot be read still fails only when it is shown."""
    entities: dict[str, CatalogEntity] = {
        "open": _venue("open"),
        "closed": _venue("closed", opening_hours=[]),
        "far": _venue("far", lat=HELSINKI.lat + 1, timezone="Nowhere/Atlantis"),
        "broken": _venue("broken", timezone="Nowhere/Atlantis"),
    }
    ids = ["closed", "far", "open"]
    primed = Audience(location=HELSINKI, now=NOW)
    primed.prime(entities.values())  # does not raise for "broken"
    fresh = Audience(location=HELSINKI, now=NOW)
    assert materialise(EntityKind.VENUE, ids, entities, primed) == materialise(
        EntityKind.VENUE, ids, entities, fresh
    )
    with pytest.raises(ZoneInfoNotFoundError):
        materialise(EntityKind.VENUE, ["broken"], entities, primed)
