"""Catalog contract: batch lookups by id plus per-city listings.

``POST /v1/{venues,items,brands,banners}:batchGet`` with ``{"ids": [...]}`` answers
``{"entities": [...], "missing": [...]}``: every asked id is either found or missing.
``GET /v1/categories?city=`` and ``GET /v1/banners?city=`` list a city's categories and
active banners.
"""

from __future__ import annotations

from pydantic import Field

from clients.contracts.common import Contract, Money


class BatchGetRequest(Contract):
    """Ids to look up; at most 500 per call."""

    ids: list[str] = Field(max_length=500)


class OpeningInterval(Contract):
    """Open from ``opens`` to ``closes`` (``HH:MM`` local time) on ``weekday`` (0 = Monday).

    ``closes`` earlier than ``opens`` means the interval runs past midnight.
    """

    weekday: int = Field(ge=0, le=6)
    opens: str
    closes: str


class BrandEntity(Contract):
    """A chain that owns venues across cities."""

    id: str
    name: str
    logo_url: str | None = None


class VenueEntity(Contract):
    """A restaurant or shop, with what the gateway needs to filter and display it.

    ``brand`` is embedded (denormalised) so that hydrating a page's venues needs no second,
    sequential brands lookup on the critical path.
    """

    id: str
    name: str
    slug: str
    city: str
    lat: float
    lon: float
    delivery_radius_m: int
    timezone: str
    opening_hours: list[OpeningInterval]
    rating: float | None = None
    delivery_minutes: int | None = None
    price_level: int = Field(ge=1, le=4)
    tags: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    image_url: str | None = None
    brand_id: str | None = None
    brand: BrandEntity | None = None
    created_at: str | None = None


class ItemEntity(Contract):
    """A menu item of one venue."""

    id: str
    venue_id: str
    name: str
    price: Money
    image_url: str | None = None
    category: str | None = None


class BannerEntity(Contract):
    """A promotional banner, active in one city."""

    id: str
    title: str
    image_url: str | None = None
    target_url: str
    city: str


class CategoryEntity(Contract):
    """A cuisine or shop category; ``slug`` is its id."""

    slug: str
    name: str
    image_url: str | None = None


class VenuesBatch(Contract):
    entities: list[VenueEntity]
    missing: list[str]


class ItemsBatch(Contract):
    entities: list[ItemEntity]
    missing: list[str]


class BrandsBatch(Contract):
    entities: list[BrandEntity]
    missing: list[str]


class BannersBatch(Contract):
    entities: list[BannerEntity]
    missing: list[str]


class CategoriesResponse(Contract):
    categories: list[CategoryEntity]
