"""The materialised page: plain, immutable objects the GraphQL layer projects directly.

Every field a client can ask for is a plain attribute here, computed once while the page is
built; nothing below the root resolver awaits anything. That keeps GraphQL execution cheap
and leaves the door open to a compiled execution path.

They are treated as immutable (a cached page is shared by every request that reuses it), but
the per-entity classes a page builds by the hundred (``Venue``, ``Item``, ``Money``) are not
``frozen``: a frozen dataclass sets each field through ``object.__setattr__`` and costs
several times as much to construct (decision 0012 has the figures), which a cold Discovery
page pays for every venue on every build. Nothing
mutates them after the build (``tests/gateway/test_page_cache.py`` checks that a page served
again from the page cache is the page first served).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class ContentSource(Enum):
    """Where a section's content came from, best first."""

    PERSONALISED = "PERSONALISED"
    CANDIDATE_ORDER = "CANDIDATE_ORDER"
    POPULAR = "POPULAR"
    STALE = "STALE"
    DEFAULT = "DEFAULT"


@dataclass(slots=True)
class Money:
    amount: int
    currency: str


@dataclass(frozen=True, slots=True)
class Brand:
    id: str
    name: str
    logo_url: str | None = None


@dataclass(slots=True)
class Venue:
    id: str
    name: str
    slug: str
    price_level: int
    tags: list[str]
    is_open: bool
    rating: float | None = None
    delivery_minutes: int | None = None
    image_url: str | None = None
    distance_meters: int | None = None
    brand: Brand | None = None
    reason: str | None = None


@dataclass(slots=True)
class Item:
    id: str
    name: str
    price: Money
    venue_id: str
    image_url: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Category:
    slug: str
    name: str
    image_url: str | None = None


@dataclass(frozen=True, slots=True)
class Banner:
    id: str
    title: str
    target_url: str
    image_url: str | None = None


Entity = Venue | Item | Category | Banner | Brand


@dataclass(frozen=True, slots=True)
class Section:
    """Fields every section shares; concrete sections add their list."""

    id: str
    title: str
    source: ContentSource
    tracking_id: str


@dataclass(frozen=True, slots=True)
class VenueCarousel(Section):
    venues: list[Venue] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ItemCarousel(Section):
    items: list[Item] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CategoryTiles(Section):
    categories: list[Category] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class BannerCarousel(Section):
    banners: list[Banner] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class BrandCarousel(Section):
    brands: list[Brand] = field(default_factory=list)


AnySection = VenueCarousel | ItemCarousel | CategoryTiles | BannerCarousel | BrandCarousel


@dataclass(frozen=True, slots=True)
class DiscoveryPage:
    request_id: str
    sections: list[AnySection]
    degraded: bool

    @property
    def layout(self) -> list[Any]:
        """A page built whole, as a layout: every slot instant (progressive pages: 0021)."""
        from resolvers.progressive import settled_layout

        return settled_layout(self.sections)


@dataclass(frozen=True, slots=True)
class VenuePage:
    request_id: str
    venue: Venue | None
    sections: list[AnySection]
    degraded: bool


@dataclass(frozen=True, slots=True)
class CartPage:
    request_id: str
    sections: list[AnySection]
    degraded: bool


@dataclass(frozen=True, slots=True)
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@dataclass(frozen=True, slots=True)
class VenueEdge:
    cursor: str
    node: Venue


@dataclass(frozen=True, slots=True)
class VenueConnection:
    edges: list[VenueEdge]
    page_info: PageInfo
    total_count: int


@dataclass(frozen=True, slots=True)
class CategoryPage:
    request_id: str
    category: Category
    venues: VenueConnection
    source: ContentSource
    degraded: bool
