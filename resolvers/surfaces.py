"""The four surfaces: validate the arguments, build the sections, shape the page.

Each public method is what one root GraphQL field calls. Arguments are checked before any
backend is asked, so a bad request costs nothing downstream and gets an error naming the
argument; backend trouble never becomes an error, only a fallback.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from clients.contracts import ItemEntity, Location, VenueEntity
from clients.contracts.common import Surface
from clients.errors import BackendError
from resolvers import materialise as mat
from resolvers.cursor import decode_cursor, encode_cursor
from resolvers.engine import BuiltSection, InstantPart, PageBuild, Services, observed
from resolvers.errors import BadUserInput, NotFound
from resolvers.events.tracker import SectionTracker
from resolvers.experiments import assignments
from resolvers.geo import find_market
from resolvers.page import (
    AnySection,
    Banner,
    BannerCarousel,
    Brand,
    BrandCarousel,
    CartPage,
    Category,
    CategoryPage,
    CategoryTiles,
    ContentSource,
    DiscoveryPage,
    Item,
    ItemCarousel,
    PageInfo,
    Venue,
    VenueCarousel,
    VenueConnection,
    VenueEdge,
    VenuePage,
)
from resolvers.page_cache import PageCache
from resolvers.progressive import ProgressiveDiscoveryPage, instant_page, progressive_page
from resolvers.references import References
from resolvers.request import PageRequest, RequestScope, SurfaceInputs, Viewer, local_time

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
MAX_ID_LENGTH = 64
MAX_CART_LINES = 100
MAX_QUANTITY = 999


@dataclass(frozen=True, slots=True)
class CartLine:
    item_id: str
    quantity: int


def validate_location(lat: float, lon: float, *, argument: str = "location") -> Location:
    if not (-90.0 <= lat <= 90.0):
        raise BadUserInput(
            f"Argument '{argument}.lat' must be a latitude between -90 and 90, got {lat}.",
            argument=f"{argument}.lat",
        )
    if not (-180.0 <= lon <= 180.0):
        raise BadUserInput(
            f"Argument '{argument}.lon' must be a longitude between -180 and 180, got {lon}.",
            argument=f"{argument}.lon",
        )
    return Location(lat=lat, lon=lon)


def validate_id(value: str, *, argument: str) -> str:
    if not value or len(value) > MAX_ID_LENGTH or not value.isprintable() or " " in value:
        raise BadUserInput(
            f"Argument '{argument}' is not a valid id (1–{MAX_ID_LENGTH} printable characters, "
            "no spaces).",
            argument=argument,
        )
    return value


class Surfaces:
    """Entry points for the four surfaces, sharing one set of services."""

    def __init__(
        self,
        services: Services,
        tracker: SectionTracker | None = None,
        *,
        page_cache: PageCache | None = None,
    ) -> None:
        self._services = services
        self._plans = services.plans
        # signs tracking ids and logs decisions; an ephemeral key when none is configured
        self._tracker = tracker or SectionTracker.ephemeral()
        self._pages = page_cache if page_cache is not None else PageCache(0, 0)
        self.references = References(services)
        """Venues, items and brands by key, for a federation router (``_entities``)."""

    def without_page_cache(self) -> Surfaces:
        """The same services and tracker, every page built afresh (the preview's view: a
        page cached while healthy would hide a fault just switched on)."""
        return Surfaces(self._services, self._tracker)

    def _request(
        self, inputs: SurfaceInputs, scope: RequestScope, location: Location
    ) -> PageRequest:
        surface = inputs.surface
        plan = self._plans.surface(surface)
        viewer = scope.viewer
        market = find_market(self._plans.markets, location)
        now = local_time(market, viewer.as_of)
        variants = assignments(
            self._plans.experiments, surface, viewer.user_id or viewer.device_id, now
        )
        ranking_variant = next(
            (v.ranking_variant for v in variants.values() if v.ranking_variant), None
        )
        request = PageRequest(
            request_id=viewer.request_id,
            user_id=viewer.user_id,
            location=location,
            market=market,
            # Minute resolution: open-now needs no more, and backend cache keys stay stable.
            local_now=now.replace(second=0, microsecond=0),
            deadline=scope.page_deadline(plan.budget_ms / 1000),
            reserve_s=self._plans.reserve_ms / 1000,
            platform=viewer.platform,
            device_id=viewer.device_id,
            ranking_variant=ranking_variant,
            hidden_sections=frozenset(h for v in variants.values() for h in v.hidden_sections),
            shed=scope.shed,
            report=scope.report.page(),
            inputs=inputs,
        )
        request.report.experiments = {name: v.name for name, v in variants.items()}
        return request

    async def _build(
        self, request: PageRequest, on_instant: Callable[[InstantPart], None] | None = None
    ) -> tuple[list[BuiltSection], bool]:
        pages = self._pages
        inputs = request.inputs
        key = pages.key(request) if pages.enabled else None
        if key is not None and (cached := pages.get(key)) is not None:
            return cached.replay(request.report, inputs.surface.value), cached.degraded
        plan = self._plans.surface(inputs.surface)
        build = PageBuild(self._services, request, plan)
        page = await build.run(on_instant)
        if key is not None:
            request.report.page_cache = "miss"
            pages.put(key, page.sections, request.report, degraded=page.degraded, shed=request.shed)
        return page.sections, page.degraded

    def _sections(
        self, request: PageRequest, surface: Surface, built: Sequence[BuiltSection]
    ) -> list[AnySection]:
        order = self._plans.surface(surface).section_order
        point = order.decision_point if order is not None else None
        self._tracker.page(request, surface.value, point, built)
        track = self._tracker.section
        return [_section(b, track(request, surface.value, b, i)) for i, b in enumerate(built)]

    # -- discovery ----------------------------------------------------------------------------

    async def discovery(self, scope: RequestScope, lat: float, lon: float) -> DiscoveryPage:
        location = validate_location(lat, lon)
        request = self._request(SurfaceInputs(Surface.DISCOVERY), scope, location)
        built, degraded = await self._build(request)
        return DiscoveryPage(
            request_id=request.request_id,
            sections=self._sections(request, Surface.DISCOVERY, built),
            degraded=degraded,
        )

    async def discovery_progressive(
        self, scope: RequestScope, lat: float, lon: float
    ) -> ProgressiveDiscoveryPage:
        """The Discovery page as soon as its instant sections are built, its personalised
        sections resolving later, under the same deadline and fallbacks (decision 0021)."""
        location = validate_location(lat, lon)
        request = self._request(SurfaceInputs(Surface.DISCOVERY), scope, location)
        loop = asyncio.get_running_loop()
        first: asyncio.Future[InstantPart] = loop.create_future()

        def on_instant(part: InstantPart) -> None:
            if not first.done():
                first.set_result(part)

        build = loop.create_task(self._build(request, on_instant))
        waiting: set[asyncio.Future[Any]] = {first, build}
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        surface = Surface.DISCOVERY.value
        if build.done():
            built, degraded = build.result()
            sections = self._sections(request, Surface.DISCOVERY, built)
            return instant_page(request.request_id, sections, degraded)
        order = self._plans.surface(Surface.DISCOVERY).section_order
        point = order.decision_point if order is not None else None
        return progressive_page(
            request.request_id,
            first.result(),
            build,
            lambda b, i: _section(b, self._tracker.section(request, surface, b, i)),
            lambda shown: self._tracker.page(request, surface, point, shown),
        )

    # -- category -----------------------------------------------------------------------------

    def _category(self, slug: str) -> Category:
        if SLUG.match(slug):
            reference = self._services.backends.reference
            for market in self._plans.markets:
                for found in reference.categories(market.id):
                    if found.slug == slug:
                        return Category(slug=found.slug, name=found.name, image_url=found.image_url)
        raise BadUserInput(
            f"Argument 'slug' names no known category: {slug[:64]!r}. "
            "Use a slug from the categories section of the discovery page.",
            argument="slug",
        )

    async def category(
        self,
        scope: RequestScope,
        slug: str,
        lat: float,
        lon: float,
        first: int,
        after: str | None,
    ) -> CategoryPage:
        location = validate_location(lat, lon)
        max_first = self._plans.surface(Surface.CATEGORY).max_first
        if not (1 <= first <= max_first):
            raise BadUserInput(
                f"Argument 'first' must be between 1 and {max_first}, got {first}.",
                argument="first",
            )
        start = decode_cursor(after) + 1 if after is not None else 0
        category = self._category(slug)
        inputs = SurfaceInputs(Surface.CATEGORY, category=slug)
        request = self._request(inputs, scope, location)
        built, degraded = await self._build(request)
        section = built[0]
        venues = [v for v in section.entities if isinstance(v, Venue)]
        window = venues[start : start + first]
        edges = [VenueEdge(cursor=encode_cursor(start + i), node=v) for i, v in enumerate(window)]
        page_info = PageInfo(
            has_next_page=start + first < len(venues),
            has_previous_page=start > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        )
        return CategoryPage(
            request_id=request.request_id,
            category=category,
            venues=VenueConnection(edges=edges, page_info=page_info, total_count=len(venues)),
            source=section.source,
            degraded=degraded,
        )

    # -- venue page ---------------------------------------------------------------------------

    async def _lookup_venue(
        self, request: PageRequest, venue_id: str
    ) -> VenueEntity | BackendError | None:
        found = await observed(
            request,
            "catalog",
            "venues:batchGet",
            self._services.backends.catalog.venues(
                [venue_id], request.deadline, reserve_s=request.reserve_s
            ),
        )
        return found if isinstance(found, BackendError) else found.value.get(venue_id)

    async def venue_page(
        self, scope: RequestScope, venue_id: str, lat: float, lon: float
    ) -> VenuePage:
        location = validate_location(lat, lon)
        validate_id(venue_id, argument="venueId")
        request = self._request(
            SurfaceInputs(Surface.VENUE_PAGE, venue_id=venue_id), scope, location
        )
        lookup = asyncio.get_running_loop().create_task(self._lookup_venue(request, venue_id))
        try:
            built, degraded = await self._build(request)
        finally:
            entity = await lookup
        if entity is None:
            raise NotFound(
                f"No venue with id {venue_id!r} (argument 'venueId').", argument="venueId"
            )
        venue = None
        if isinstance(entity, BackendError):
            degraded = request.report.degraded = True
        else:
            venue = mat.venue(entity, request.audience, None, require_delivery=False)
        return VenuePage(
            request_id=request.request_id,
            venue=venue,
            sections=self._sections(request, Surface.VENUE_PAGE, built),
            degraded=degraded,
        )

    # -- cart ---------------------------------------------------------------------------------

    def _validate_lines(self, lines: Sequence[CartLine]) -> tuple[str, ...]:
        if not lines:
            raise BadUserInput(
                "Argument 'cart.lines' is empty: a cart needs at least one line.",
                argument="cart.lines",
            )
        if len(lines) > MAX_CART_LINES:
            raise BadUserInput(
                f"Argument 'cart.lines' has {len(lines)} lines; at most {MAX_CART_LINES} allowed.",
                argument="cart.lines",
            )
        for i, line in enumerate(lines):
            validate_id(line.item_id, argument=f"cart.lines[{i}].itemId")
            if not (1 <= line.quantity <= MAX_QUANTITY):
                raise BadUserInput(
                    f"Argument 'cart.lines[{i}].quantity' must be between 1 and {MAX_QUANTITY}, "
                    f"got {line.quantity}.",
                    argument=f"cart.lines[{i}].quantity",
                )
        return tuple(dict.fromkeys(line.item_id for line in lines))

    async def _lookup_items(
        self, request: PageRequest, ids: Sequence[str]
    ) -> dict[str, ItemEntity] | BackendError:
        found = await observed(
            request,
            "catalog",
            "items:batchGet",
            self._services.backends.catalog.items(
                list(ids), request.deadline, reserve_s=request.reserve_s
            ),
        )
        return found if isinstance(found, BackendError) else dict(found.value)

    async def cart(
        self,
        scope: RequestScope,
        venue_id: str,
        lines: Sequence[CartLine],
        lat: float,
        lon: float,
    ) -> CartPage:
        location = validate_location(lat, lon)
        validate_id(venue_id, argument="cart.venueId")
        item_ids = self._validate_lines(lines)
        inputs = SurfaceInputs(Surface.CART, venue_id=venue_id, cart_item_ids=item_ids)
        request = self._request(inputs, scope, location)
        lookup = asyncio.get_running_loop().create_task(self._lookup_items(request, item_ids))
        try:
            built, degraded = await self._build(request)
        finally:
            items = await lookup
        if isinstance(items, BackendError):
            degraded = request.report.degraded = True
        else:
            for i, line in enumerate(lines):
                found = items.get(line.item_id)
                if found is None:
                    raise NotFound(
                        f"No item with id {line.item_id!r} (argument 'cart.lines[{i}].itemId').",
                        argument=f"cart.lines[{i}].itemId",
                    )
                if found.venue_id != venue_id:
                    raise BadUserInput(
                        f"Item {line.item_id!r} (argument 'cart.lines[{i}].itemId') belongs to "
                        f"venue {found.venue_id!r}, not to the cart's venue {venue_id!r}.",
                        argument=f"cart.lines[{i}].itemId",
                    )
        return CartPage(
            request_id=request.request_id,
            sections=self._sections(request, Surface.CART, built),
            degraded=degraded,
        )


def _section(built: BuiltSection, tracking: str) -> AnySection:
    plan = built.plan
    head = (plan.id, plan.title, built.source, tracking)
    entities = built.entities
    kind = plan.kind.value
    if kind == "venue":
        return VenueCarousel(*head, venues=[e for e in entities if isinstance(e, Venue)])
    if kind == "item":
        return ItemCarousel(*head, items=[e for e in entities if isinstance(e, Item)])
    if kind == "category":
        return CategoryTiles(*head, categories=[e for e in entities if isinstance(e, Category)])
    if kind == "banner":
        return BannerCarousel(*head, banners=[e for e in entities if isinstance(e, Banner)])
    return BrandCarousel(*head, brands=[e for e in entities if isinstance(e, Brand)])


__all__ = ["CartLine", "ContentSource", "Surfaces", "Viewer", "validate_location"]
