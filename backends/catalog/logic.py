"""Catalog lookups: entities by id (found or missing) and per-city listings.

Entities are rendered from the dataset arrays on demand and memoised, so start-up stays
fast and a repeated id costs a dict lookup.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Literal, TypeVar

import numpy as np
import orjson
from pydantic import BaseModel

from backends.dataset import (
    CATEGORY_NAMES,
    CATEGORY_SLUGS,
    CITIES,
    CITY_BY_ID,
    ITEM_ROLES,
    Dataset,
    hhmm,
    local_datetime,
    parse_id,
    venue_id,
)
from clients.contracts import (
    BannerEntity,
    BrandEntity,
    CategoryEntity,
    ItemEntity,
    Money,
    OpeningInterval,
    VenueEntity,
)

IMG = "https://img.example"
T = TypeVar("T")
EntityKindName = Literal["venue", "item", "brand", "banner"]


class Catalog:
    """Renders contract entities from one :class:`Dataset`."""

    def __init__(self, ds: Dataset) -> None:
        self.ds = ds
        self._banners = {
            b[0]: BannerEntity(
                id=b[0],
                title=b[2],
                image_url=f"{IMG}/banners/{b[0]}.jpg",
                target_url=b[3],
                city=b[1],
            )
            for b in ds.banners
        }
        self._active = {
            city.id: [b[0] for b in ds.banners if b[1] == city.id and b[4]] for city in CITIES
        }
        self.venue = functools.lru_cache(maxsize=None)(self._venue)
        self.item = functools.lru_cache(maxsize=50_000)(self._item)
        self.brand = functools.lru_cache(maxsize=None)(self._brand)
        # each entity's JSON, encoded once (an entity never changes)
        self._json: dict[EntityKindName, Callable[[str], bytes | None]] = {
            kind: functools.lru_cache(maxsize=50_000)(_encoded(find))
            for kind, find in (
                ("venue", self.venue),
                ("item", self.item),
                ("brand", self.brand),
                ("banner", self.banner),
            )
        }

    # -- single entities (None = unknown id)
    def _venue(self, vid: str) -> VenueEntity | None:
        ds = self.ds
        v = parse_id(vid, "v", ds.n_venues)
        if v is None:
            return None
        city = CITIES[ds.v_city[v]]
        b = int(ds.v_brand[v])
        created = local_datetime(city, int(ds.v_created_days[v]), 9 * 60)
        return VenueEntity(
            id=vid,
            name=ds.v_name[v],
            slug=ds.v_slug[v],
            city=city.id,
            lat=round(float(ds.v_lat[v]), 6),
            lon=round(float(ds.v_lon[v]), 6),
            delivery_radius_m=int(ds.v_radius_m[v]),
            timezone=city.timezone,
            opening_hours=[
                OpeningInterval(weekday=d, opens=hhmm(o), closes=hhmm(c))
                for d, o, c in ds.v_hours[v]
            ],
            rating=float(ds.v_rating[v]),
            delivery_minutes=int(ds.v_delivery_min[v]),
            price_level=int(ds.v_price[v]),
            tags=list(ds.v_tags[v]),
            categories=[CATEGORY_SLUGS[c] for c in np.flatnonzero(ds.v_cats[v])],
            image_url=f"{IMG}/venues/{vid}.jpg",
            brand_id=self._brand_id(b),
            brand=self.brand(self._brand_id(b)) if b >= 0 else None,
            created_at=created.isoformat(),
        )

    @staticmethod
    def _brand_id(b: int) -> str | None:
        return f"b{b + 1:03d}" if b >= 0 else None

    def _item(self, iid: str) -> ItemEntity | None:
        ds = self.ds
        i = parse_id(iid, "i", ds.n_items)
        if i is None:
            return None
        v = int(ds.it_venue[i])
        return ItemEntity(
            id=iid,
            venue_id=venue_id(v),
            name=ds.it_name[i],
            price=Money(amount=int(ds.it_price[i]), currency=CITIES[ds.v_city[v]].currency),
            image_url=f"{IMG}/items/{iid}.jpg",
            category=ITEM_ROLES[ds.it_role[i]],
        )

    def _brand(self, bid: str | None) -> BrandEntity | None:
        b = parse_id(bid, "b", self.ds.n_brands)
        if b is None or bid is None:
            return None
        return BrandEntity(id=bid, name=self.ds.b_name[b], logo_url=f"{IMG}/brands/{bid}.png")

    def banner(self, bid: str) -> BannerEntity | None:
        return self._banners.get(bid)

    def batch_json(self, kind: EntityKindName, ids: list[str]) -> bytes:
        """The ``{"entities": [...], "missing": [...]}`` body of a ``batchGet`` of ``kind``,
        encoded: the bytes FastAPI writes for the batch model (request order, duplicates
        answered once), from each entity's JSON encoded once and then reused."""
        encoded = self._json[kind]
        entities, missing = split_found(ids, [encoded(i) for i in ids])
        return (
            b'{"entities":[' + b",".join(entities) + b'],"missing":' + orjson.dumps(missing) + b"}"
        )

    # -- listings
    def categories(self, city_id: str | None) -> list[CategoryEntity]:
        """Categories with at least one venue in the city (all categories if no city)."""
        ds = self.ds
        if city_id is None:
            present = np.ones(len(CATEGORY_SLUGS), dtype=bool)
        elif city_id in CITY_BY_ID:
            ci = next(i for i, c in enumerate(CITIES) if c.id == city_id)
            present = ds.v_cats[ds.v_city == ci].any(0)
        else:
            return []
        return [category_entity(CATEGORY_SLUGS[c]) for c in np.flatnonzero(present)]

    def active_banners(self, city_id: str) -> list[BannerEntity]:
        return [self._banners[b] for b in self._active.get(city_id, [])]


def category_entity(slug: str) -> CategoryEntity:
    return CategoryEntity(
        slug=slug, name=CATEGORY_NAMES[slug], image_url=f"{IMG}/categories/{slug}.png"
    )


def _encoded(find: Callable[[str], BaseModel | None]) -> Callable[[str], bytes | None]:
    def encode(entity_id: str) -> bytes | None:
        entity = find(entity_id)
        return None if entity is None else entity.__pydantic_serializer__.to_json(entity)

    return encode


def split_found(ids: list[str], found: list[T | None]) -> tuple[list[T], list[str]]:
    """(entities, missing) keeping request order; duplicate ids are answered once."""
    entities: list[T] = []
    missing: list[str] = []
    seen: set[str] = set()
    for i, e in zip(ids, found, strict=True):
        if i in seen:
            continue
        seen.add(i)
        if e is None:
            missing.append(i)
        else:
            entities.append(e)
    return entities, missing


@functools.cache
def get_catalog() -> Catalog:
    from backends.dataset import get_dataset

    return Catalog(get_dataset())
