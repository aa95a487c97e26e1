"""GraphQL object types of the v1 API.

Each type is a projection of a plain page object from ``resolvers.page``: fields are read as
attributes by the default resolver, never computed here. ``is_type_of`` / ``resolve_type``
map the plain objects onto these types, so resolvers stay free of GraphQL.
"""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLAbstractType, GraphQLResolveInfo

from resolvers import page
from resolvers.events import EventOutcome, RecordedEvents, RejectReason
from resolvers.progressive import ProgressiveDiscoveryPage
from resolvers.progressive import SectionSlot as PlainSlot

strawberry.enum(
    page.ContentSource,
    name="ContentSource",
    description=(
        "Where a section's content came from, best first. Anything but the section's usual "
        "source means a backend was unavailable and a fallback was used."
    ),
)


def _plain(cls: type[Any] | tuple[type[Any], ...]) -> Any:
    """An ``is_type_of`` accepting the plain page object this GraphQL type projects."""

    def is_type_of(obj: Any, _info: GraphQLResolveInfo[Any]) -> bool:
        return isinstance(obj, cls)

    return staticmethod(is_type_of)


@strawberry.type(description="An amount of money in minor units (cents, öre).")
class Money:
    amount: int = strawberry.field(description="Amount in minor units: 1250 EUR means €12.50.")
    currency: str = strawberry.field(description="ISO 4217 currency code, e.g. EUR or SEK.")
    is_type_of = _plain(page.Money)


@strawberry.type(description="A chain of venues, possibly across cities.")
class Brand:
    id: strawberry.ID = strawberry.field(description="Stable brand id.")
    name: str = strawberry.field(description="Display name.")
    logo_url: str | None = strawberry.field(description="Logo image URL, if any.")
    is_type_of = _plain(page.Brand)


@strawberry.type(description="A restaurant or shop as the viewer sees it from their location.")
class Venue:
    id: strawberry.ID = strawberry.field(description="Stable venue id.")
    name: str = strawberry.field(description="Display name.")
    slug: str = strawberry.field(description="URL-friendly name, unique within a city.")
    rating: float | None = strawberry.field(description="Average rating 0–10, if rated.")
    delivery_minutes: int | None = strawberry.field(description="Typical delivery time in minutes.")
    price_level: int = strawberry.field(description="1 (cheap) to 4 (expensive).")
    tags: list[str] = strawberry.field(description="Cuisine and feature tags for display.")
    image_url: str | None = strawberry.field(description="Cover image URL.")
    is_open: bool = strawberry.field(
        description="Open now, in the venue's own time zone. Closed venues are listed last."
    )
    distance_meters: int | None = strawberry.field(
        description="Straight-line distance from the requested location, in metres."
    )
    brand: Brand | None = strawberry.field(description="The chain it belongs to, if any.")
    reason: str | None = strawberry.field(
        description="Why it is shown, e.g. 'Because you ordered from X'; null if no reason."
    )
    is_type_of = _plain(page.Venue)


@strawberry.type(description="A menu item of one venue.")
class Item:
    id: strawberry.ID = strawberry.field(description="Stable item id.")
    name: str = strawberry.field(description="Display name.")
    price: Money = strawberry.field(description="Unit price.")
    image_url: str | None = strawberry.field(description="Image URL, if any.")
    venue_id: strawberry.ID = strawberry.field(description="The venue that sells it.")
    reason: str | None = strawberry.field(
        description="Why it is suggested, e.g. 'Often bought with X'; null if no reason."
    )
    is_type_of = _plain(page.Item)


@strawberry.type(description="A cuisine or shop category; its slug is its id.")
class Category:
    slug: str = strawberry.field(description="Stable id, usable as the category page argument.")
    name: str = strawberry.field(description="Display name.")
    image_url: str | None = strawberry.field(description="Tile image URL.")
    is_type_of = _plain(page.Category)


@strawberry.type(description="A promotional banner.")
class Banner:
    id: strawberry.ID = strawberry.field(description="Stable banner id.")
    title: str = strawberry.field(description="Headline text.")
    image_url: str | None = strawberry.field(description="Banner image URL.")
    target_url: str = strawberry.field(description="Where a tap on the banner leads.")
    is_type_of = _plain(page.Banner)


_SECTION_TYPES: dict[type[Any], str] = {
    page.VenueCarousel: "VenueCarousel",
    page.ItemCarousel: "ItemCarousel",
    page.CategoryTiles: "CategoryTiles",
    page.BannerCarousel: "BannerCarousel",
    page.BrandCarousel: "BrandCarousel",
}


@strawberry.interface(
    description=(
        "One block of a page (a carousel or tile grid). Render sections in the order given; "
        "echo trackingId back with impressions and clicks."
    )
)
class Section:
    id: strawberry.ID = strawberry.field(
        description="The section's id in the surface plan, e.g. 'for_you'. Stable across pages."
    )
    title: str = strawberry.field(description="Heading to display.")
    source: page.ContentSource = strawberry.field(
        description="Where this section's content came from."
    )
    tracking_id: strawberry.ID = strawberry.field(
        description="Opaque id of the decision that produced this section; send it with events."
    )

    @staticmethod
    def resolve_type(obj: Any, _info: GraphQLResolveInfo[Any], _type: GraphQLAbstractType) -> str:
        return _SECTION_TYPES[type(obj)]


@strawberry.type(description="A horizontal list of venues.")
class VenueCarousel(Section):
    venues: list[Venue] = strawberry.field(description="Venues, best first; closed ones last.")
    is_type_of = _plain(page.VenueCarousel)


@strawberry.type(description="A horizontal list of menu items.")
class ItemCarousel(Section):
    items: list[Item] = strawberry.field(description="Items, best first.")
    is_type_of = _plain(page.ItemCarousel)


@strawberry.type(description="A grid of category tiles.")
class CategoryTiles(Section):
    categories: list[Category] = strawberry.field(description="Categories, best first.")
    is_type_of = _plain(page.CategoryTiles)


@strawberry.type(description="A carousel of promotional banners.")
class BannerCarousel(Section):
    banners: list[Banner] = strawberry.field(description="Banners, best first.")
    is_type_of = _plain(page.BannerCarousel)


@strawberry.type(description="A horizontal list of brands (chains).")
class BrandCarousel(Section):
    brands: list[Brand] = strawberry.field(description="Brands, best first.")
    is_type_of = _plain(page.BrandCarousel)


SECTION_IMPLEMENTATIONS = [
    VenueCarousel,
    ItemCarousel,
    CategoryTiles,
    BannerCarousel,
    BrandCarousel,
]

_PAGE_REQUEST_ID = "Id of this response; quote it when reporting a problem."
_PAGE_DEGRADED = "True when some content came from a fallback because a backend was slow or down."


@strawberry.type(
    description=(
        "One place of a progressive page, in display order: its section at once when it needs "
        "no personalisation, or later when it does. Put 'personalised' in a @defer fragment."
    )
)
class SectionSlot:
    id: strawberry.ID = strawberry.field(description="The section's id in the surface plan.")
    instant: Section | None = strawberry.field(
        description=(
            "The section, when it was ready at once: its content needs no personalisation "
            "call (popularity, banners), or the whole page was (a cached page, or a document "
            "without @defer); null in a personalised slot."
        )
    )
    personalised: Section | None = strawberry.field(
        description=(
            "The personalised section, when the ranking answers or the deadline makes it fall "
            "back; null in an instant slot, or when the section turned out empty."
        )
    )
    is_type_of = _plain(PlainSlot)


@strawberry.type(description="The personalised home feed.")
class DiscoveryPage:
    request_id: strawberry.ID = strawberry.field(description=_PAGE_REQUEST_ID)
    sections: list[Section] = strawberry.field(description="Sections in display order.")
    degraded: bool = strawberry.field(description=_PAGE_DEGRADED)
    layout: list[SectionSlot] = strawberry.field(
        description=(
            "Every section's place in display order, answered as soon as the sections that "
            "need no personalisation are ready. Ask for each slot's 'personalised' section in "
            "a @defer fragment to render the page at once and fill it in as it arrives "
            "(multipart/mixed incremental delivery)."
        )
    )
    is_type_of = _plain((page.DiscoveryPage, ProgressiveDiscoveryPage))


@strawberry.type(description="One venue's page with item recommendations.")
class VenuePage:
    request_id: strawberry.ID = strawberry.field(description=_PAGE_REQUEST_ID)
    venue: Venue | None = strawberry.field(
        description="The venue; null only when the catalog is unavailable."
    )
    sections: list[Section] = strawberry.field(description="Sections in display order.")
    degraded: bool = strawberry.field(description=_PAGE_DEGRADED)
    is_type_of = _plain(page.VenuePage)


@strawberry.type(description="Recommendations to complete a cart.")
class CartPage:
    request_id: strawberry.ID = strawberry.field(description=_PAGE_REQUEST_ID)
    sections: list[Section] = strawberry.field(description="Sections in display order.")
    degraded: bool = strawberry.field(description=_PAGE_DEGRADED)
    is_type_of = _plain(page.CartPage)


@strawberry.type(description="Relay pagination state of a connection.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More venues follow endCursor.")
    has_previous_page: bool = strawberry.field(description="Venues precede startCursor.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first edge.")
    end_cursor: str | None = strawberry.field(
        description="Cursor of the last edge; pass it as 'after' to get the next page."
    )
    is_type_of = _plain(page.PageInfo)


@strawberry.type(description="A venue in a paginated list, with its cursor.")
class VenueEdge:
    cursor: str = strawberry.field(description="Opaque position of this venue in the list.")
    node: Venue = strawberry.field(description="The venue.")
    is_type_of = _plain(page.VenueEdge)


@strawberry.type(description="A Relay connection of venues.")
class VenueConnection:
    edges: list[VenueEdge] = strawberry.field(description="This page of venues.")
    page_info: PageInfo = strawberry.field(description="Where this page sits in the list.")
    total_count: int = strawberry.field(description="How many venues the whole list holds.")
    is_type_of = _plain(page.VenueConnection)


@strawberry.type(description="Venues of one category near the viewer, ranked and paginated.")
class CategoryPage:
    request_id: strawberry.ID = strawberry.field(description=_PAGE_REQUEST_ID)
    category: Category = strawberry.field(description="The category shown.")
    venues: VenueConnection = strawberry.field(description="Venues, best first, closed last.")
    source: page.ContentSource = strawberry.field(description="Where the venue order came from.")
    degraded: bool = strawberry.field(description=_PAGE_DEGRADED)
    is_type_of = _plain(page.CategoryPage)


# -- feedback: recordEvents (decision 0007) ------------------------------------------------

strawberry.enum(
    RejectReason,
    name="EventRejection",
    description="Why an event was not accepted.",
)


@strawberry.type(description="What happened to one event of a recordEvents call.")
class EventResult:
    index: int = strawberry.field(description="The event's 0-based index in the call.")
    accepted: bool = strawberry.field(description="Whether the event was recorded.")
    event_id: strawberry.ID | None = strawberry.field(
        description="Idempotency key of an accepted event: resending it changes nothing."
    )
    reason: RejectReason | None = strawberry.field(description="Why it was rejected, if it was.")
    message: str | None = strawberry.field(description="A readable explanation of the reason.")
    is_type_of = _plain(EventOutcome)


@strawberry.type(description="The outcome of recordEvents: one result per event, in order.")
class RecordEventsPayload:
    accepted: int = strawberry.field(description="How many events were recorded.")
    rejected: int = strawberry.field(description="How many events were rejected.")
    results: list[EventResult] = strawberry.field(description="One result per event, in order.")
    is_type_of = _plain(RecordedEvents)
