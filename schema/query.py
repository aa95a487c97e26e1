"""The root Query: one field per surface, each a single await on ``resolvers``."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar, cast

import strawberry
from graphql import GraphQLError

from resolvers import CartLine, ClientError
from schema.context import GatewayInfo
from schema.incremental import asks_for_layout, incremental
from schema.inputs import CartInput, LocationInput
from schema.types import CartPage, CategoryPage, DiscoveryPage, VenuePage

T = TypeVar("T")


async def _answer(build: Awaitable[Any], as_type: type[T]) -> T:
    """Await a page; a client's mistake becomes a coded GraphQL error naming the argument."""
    try:
        page = await build
    except ClientError as exc:
        extensions: dict[str, Any] = {"code": exc.code}
        if exc.argument:
            extensions["argument"] = exc.argument
        raise GraphQLError(exc.message, extensions=extensions) from None
    return cast(T, page)


@strawberry.type(description="Personalised surfaces of the food-delivery app.")
class Query:
    @strawberry.field(description="The Discovery (home) feed for the viewer at a location.")
    async def discovery(
        self,
        info: GatewayInfo,
        location: Annotated[LocationInput, strawberry.argument(description="Delivery location.")],
    ) -> DiscoveryPage:
        ctx = info.context
        if incremental(info) and asks_for_layout(info._raw_info):
            # progressive (decision 0021): answer with what is ready, the rest as it comes
            progressive = ctx.surfaces.discovery_progressive(ctx.scope, location.lat, location.lon)
            return await _answer(progressive, DiscoveryPage)
        build = ctx.surfaces.discovery(ctx.scope, location.lat, location.lon)
        return await _answer(build, DiscoveryPage)

    @strawberry.field(description="Venues of one category near the location, ranked, paginated.")
    async def category(
        self,
        info: GatewayInfo,
        slug: Annotated[str, strawberry.argument(description="Category slug, e.g. 'pizza'.")],
        location: Annotated[LocationInput, strawberry.argument(description="Delivery location.")],
        first: Annotated[int, strawberry.argument(description="Page size (1 to 50).")] = 20,
        after: Annotated[
            str | None,
            strawberry.argument(description="endCursor of the previous page; omit for the first."),
        ] = None,
    ) -> CategoryPage:
        ctx = info.context
        build = ctx.surfaces.category(ctx.scope, slug, location.lat, location.lon, first, after)
        return await _answer(build, CategoryPage)

    @strawberry.field(description="A venue's page with items recommended for the viewer.")
    async def venue_page(
        self,
        info: GatewayInfo,
        venue_id: Annotated[strawberry.ID, strawberry.argument(description="The venue's id.")],
        location: Annotated[LocationInput, strawberry.argument(description="Delivery location.")],
    ) -> VenuePage:
        ctx = info.context
        build = ctx.surfaces.venue_page(ctx.scope, str(venue_id), location.lat, location.lon)
        return await _answer(build, VenuePage)

    @strawberry.field(description="Suggestions to add to a cart: same venue, not already in it.")
    async def cart(
        self,
        info: GatewayInfo,
        cart: Annotated[CartInput, strawberry.argument(description="The current cart.")],
        location: Annotated[LocationInput, strawberry.argument(description="Delivery location.")],
    ) -> CartPage:
        ctx = info.context
        lines = [CartLine(item_id=str(line.item_id), quantity=line.quantity) for line in cart.lines]
        build = ctx.surfaces.cart(ctx.scope, str(cart.venue_id), lines, location.lat, location.lon)
        return await _answer(build, CartPage)
