"""Shared pieces of the compiled-path tests: page strategies, fake surfaces, both executions.

The standard side is the real Strawberry schema (``schema.build_schema`` with the gateway's
``code_errors``) executed by Strawberry itself, with the real root resolvers of
``schema/query.py`` over fake ``Surfaces`` that hand back materialised page objects; its
result is rendered exactly as the HTTP layer does (``strawberry.http.process_result``). The
compiled side runs the same root resolvers through ``gateway.compiled.root_caller``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import orjson
from graphql import parse
from hypothesis import strategies as st
from strawberry.http import process_result

from gateway.compiled import CompiledOperation, compile_operation, root_caller
from gateway.extensions import code_errors
from resolvers import RequestScope, Viewer
from resolvers import page as pg
from schema import GatewayContext, build_schema

STRAWBERRY_SCHEMA = build_schema(error_processor=code_errors)
SCHEMA = STRAWBERRY_SCHEMA._schema
HELSINKI = {"lat": 60.1699, "lon": 24.9384}

# -- page objects -----------------------------------------------------------------------

INT32 = st.integers(-(2**31), 2**31 - 1)
TEXT = st.text(max_size=6)


def _maybe_odd(normal: st.SearchStrategy[Any], odd: st.SearchStrategy[Any], flag: bool) -> Any:
    return st.one_of(normal, odd) if flag else normal


def leaf_strategies(odd: bool) -> dict[str, st.SearchStrategy[Any]]:
    """Per scalar kind: realistic values, plus (when ``odd``) values needing coercion,
    out-of-range ints, non-finite floats and nulls in non-null positions."""
    return {
        "str": _maybe_odd(TEXT, st.one_of(st.none(), st.integers(0, 99), st.booleans()), odd),
        "int": _maybe_odd(
            st.integers(0, 5000),
            st.one_of(st.none(), st.just(2**40), st.booleans(), st.just(3.0)),
            odd,
        ),
        "float": _maybe_odd(
            st.floats(0, 10, allow_nan=False),
            st.one_of(st.integers(0, 10), st.just(math.nan), st.just(math.inf)),
            odd,
        ),
        "bool": _maybe_odd(st.booleans(), st.one_of(st.none(), st.integers(0, 2)), odd),
        "enum": _maybe_odd(st.sampled_from(pg.ContentSource), st.one_of(st.none(), TEXT), odd),
    }


@st.composite
def pages(draw: st.DrawFn, odd: bool = False, max_items: int = 4) -> dict[str, Any]:
    """One materialised page per surface (the same objects serve both executions)."""
    leaf = leaf_strategies(odd)
    s, i, f, b = leaf["str"], leaf["int"], leaf["float"], leaf["bool"]
    opt_s, opt_i, opt_f = st.none() | s, st.none() | i, st.none() | f

    brand = st.builds(pg.Brand, id=s, name=s, logo_url=opt_s)
    venue = st.builds(
        pg.Venue,
        id=s,
        name=s,
        slug=s,
        price_level=i,
        tags=st.lists(s, max_size=3) if not odd else st.lists(s, max_size=3) | st.tuples(s),
        is_open=b,
        rating=opt_f,
        delivery_minutes=opt_i,
        image_url=opt_s,
        distance_meters=opt_i,
        brand=st.none() | brand,
        reason=opt_s,
    )
    item = st.builds(
        pg.Item,
        id=s,
        name=s,
        price=st.builds(pg.Money, amount=i, currency=s),
        venue_id=s,
        image_url=opt_s,
        reason=opt_s,
    )
    category = st.builds(pg.Category, slug=s, name=s, image_url=opt_s)
    banner = st.builds(pg.Banner, id=s, title=s, target_url=s, image_url=opt_s)

    def lists(entity: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.lists(entity, max_size=max_items)

    head = {"id": s, "title": s, "source": leaf["enum"], "tracking_id": s}
    section = st.one_of(
        st.builds(pg.VenueCarousel, venues=lists(venue), **head),
        st.builds(pg.ItemCarousel, items=lists(item), **head),
        st.builds(pg.CategoryTiles, categories=lists(category), **head),
        st.builds(pg.BannerCarousel, banners=lists(banner), **head),
        st.builds(pg.BrandCarousel, brands=lists(brand), **head),
    )
    sections = st.lists(section, max_size=max_items)
    page_info = st.builds(
        pg.PageInfo, has_next_page=b, has_previous_page=b, start_cursor=opt_s, end_cursor=opt_s
    )
    connection = st.builds(
        pg.VenueConnection,
        edges=lists(st.builds(pg.VenueEdge, cursor=s, node=venue)),
        page_info=page_info,
        total_count=i,
    )
    return {
        "discovery": draw(st.builds(pg.DiscoveryPage, request_id=s, sections=sections, degraded=b)),
        "category": draw(
            st.builds(
                pg.CategoryPage,
                request_id=s,
                category=category,
                venues=connection,
                source=leaf["enum"],
                degraded=b,
            )
        ),
        "venuePage": draw(
            st.builds(
                pg.VenuePage,
                request_id=s,
                venue=st.none() | venue,
                sections=sections,
                degraded=b,
            )
        ),
        "cart": draw(st.builds(pg.CartPage, request_id=s, sections=sections, degraded=b)),
    }


# -- fake surfaces ----------------------------------------------------------------------


@dataclass
class FakeSurfaces:
    """Stands in for ``resolvers.Surfaces``: answers each surface with a prepared page (or
    raises what it was told to), and counts the calls."""

    pages: dict[str, Any]
    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    raises: dict[str, BaseException] = field(default_factory=dict)

    async def _answer(self, surface: str, *args: Any) -> Any:
        self.calls.append((surface, args[1:]))
        if surface in self.raises:
            raise self.raises[surface]
        return self.pages[surface]

    async def discovery(self, *args: Any) -> Any:
        return await self._answer("discovery", *args)

    async def category(self, *args: Any) -> Any:
        return await self._answer("category", *args)

    async def venue_page(self, *args: Any) -> Any:
        return await self._answer("venuePage", *args)

    async def cart(self, *args: Any) -> Any:
        return await self._answer("cart", *args)


def context_for(surfaces: FakeSurfaces, request_id: str = "req-1") -> GatewayContext:
    scope = RequestScope.arrived_at(Viewer(request_id=request_id, user_id=None), 0.0)
    return GatewayContext(surfaces=surfaces, scope=scope)  # type: ignore[arg-type]


# -- both executions --------------------------------------------------------------------


async def standard(
    query: str,
    variables: dict[str, Any] | None,
    surfaces: FakeSurfaces,
    operation_name: str | None = None,
) -> dict[str, Any]:
    """Strawberry's execution, rendered as the HTTP layer renders it."""
    result = await STRAWBERRY_SCHEMA.execute(
        query,
        variable_values=variables,
        context_value=context_for(surfaces),
        operation_name=operation_name,
    )
    return dict(process_result(result))


def compile_text(query: str, operation_name: str | None = None) -> CompiledOperation | None:
    return compile_operation(SCHEMA, parse(query), operation_name)


async def compiled_run(
    compiled: CompiledOperation, variables: dict[str, Any] | None, surfaces: FakeSurfaces
) -> dict[str, Any]:
    context = context_for(surfaces)
    return await compiled.execute(variables, root_caller(compiled, context), context=context)


def encoded(response: dict[str, Any]) -> bytes:
    """What the client receives (orjson, as ``GatewayGraphQL.encode_json``): key order too."""
    return orjson.dumps(response)


async def assert_same(
    query: str,
    variables: dict[str, Any] | None,
    pages: dict[str, Any],
    *,
    operation_name: str | None = None,
    raises: dict[str, BaseException] | None = None,
    compiled: CompiledOperation | None = None,
) -> tuple[dict[str, Any], CompiledOperation]:
    """Run ``query`` both ways over the same page objects; the responses must be equal
    (as dicts and as encoded bytes), and each root resolver must have run as often."""
    compiled = compiled or compile_text(query, operation_name)
    assert compiled is not None, f"not compiled:\n{query}"
    reference = FakeSurfaces(pages, raises=dict(raises or {}))
    expected = await standard(query, variables, reference, operation_name)
    fast = FakeSurfaces(pages, raises=dict(raises or {}))
    actual = await compiled_run(compiled, variables, fast)
    assert actual == expected
    assert encoded(actual) == encoded(expected)
    assert sorted(map(repr, fast.calls)) == sorted(map(repr, reference.calls))
    return actual, compiled
