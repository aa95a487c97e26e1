"""CPU per execution of the Discovery operation: standard execution vs the compiled path.

``python -m bench.compiled_path [--sections 7] [--venues 20] [--seconds 2]``

The page is materialised once (7 venue carousels × 20 venues with every field set, as the
shipped ``DiscoveryFeed`` asks for them: ~2,000 response values) and handed back by a fake
``Surfaces``, so what is measured is execution alone, through the same root resolver
(``schema/query.py``) on every path:

- ``strawberry``: ``schema.execute`` of the gateway's schema with all its extensions (parse
  and validation caches, limits, metrics, access log, span, debug) — today's request path
  minus HTTP;
- ``graphql-core``: graphql-core's ``execute`` of the pre-parsed, pre-validated document on
  the same schema (the executor alone);
- ``compiled+ext``: ``CompiledPath.execute``, what the view mixin runs for a known
  document: the compiled operation inside Strawberry's extension runner (metrics, access log,
  span, debug) — compare with ``strawberry``;
- ``compiled``: ``CompiledOperation.execute`` (variable and argument coercion, the root
  resolver, the generated projector, the response dict).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import ExecutionResult, execute, parse

from gateway.compiled.compiler import CompiledOperation, compile_operation
from gateway.compiled.roots import root_caller
from gateway.compiled.serving import CompiledPath
from gateway.limits import Limits
from gateway.logs import configure_logging
from resolvers import RequestScope, Viewer
from resolvers import page as pg
from schema import GatewayContext

HELSINKI = {"lat": 60.1699, "lon": 24.9384}
SOURCES = list(pg.ContentSource)


def venue(n: int) -> pg.Venue:
    return pg.Venue(
        id=f"v{n:05d}",
        name=f"Venue number {n}",
        slug=f"venue-number-{n}",
        price_level=1 + n % 4,
        tags=["pizza", "italian", "family"][: 1 + n % 3],
        is_open=n % 5 != 0,
        rating=6.0 + (n % 40) / 10,
        delivery_minutes=15 + n % 30,
        image_url=f"https://img.example/v/{n}.jpg",
        distance_meters=200 + 37 * n,
        brand=pg.Brand(id=f"b{n % 40:03d}", name=f"Brand {n % 40}", logo_url="https://img/b.png"),
        reason=f"Because you ordered from Venue {n + 1}",
    )


def item(n: int) -> pg.Item:
    return pg.Item(
        id=f"i{n:05d}",
        name=f"Item {n}",
        price=pg.Money(amount=950 + n, currency="EUR"),
        venue_id=f"v{n // 25:05d}",
        image_url=f"https://img.example/i/{n}.jpg",
        reason="Often bought together",
    )


def venue_carousels(sections: int, venues: int) -> list[pg.AnySection]:
    return [
        pg.VenueCarousel(
            id=f"section_{s}",
            title=f"Section {s}",
            source=SOURCES[s % len(SOURCES)],
            tracking_id=f"trk-{s}-0123456789abcdef",
            venues=[venue(s * venues + v) for v in range(venues)],
        )
        for s in range(sections)
    ]


def discovery_page(sections: int = 7, venues: int = 20) -> pg.DiscoveryPage:
    return pg.DiscoveryPage(
        request_id="0123456789abcdef0123456789abcdef",
        sections=venue_carousels(sections, venues),
        degraded=False,
    )


def realistic_pages(sections: int = 7, venues: int = 20) -> dict[str, Any]:
    """A realistic page per surface, every field set, every section kind represented."""
    mixed: list[pg.AnySection] = [
        *venue_carousels(2, venues),
        pg.ItemCarousel(
            "items",
            "Items",
            pg.ContentSource.PERSONALISED,
            "trk-i",
            [item(n) for n in range(venues)],
        ),
        pg.CategoryTiles(
            "cats",
            "Categories",
            pg.ContentSource.POPULAR,
            "trk-c",
            [pg.Category(slug=f"c{n}", name=f"Category {n}", image_url=None) for n in range(8)],
        ),
        pg.BannerCarousel(
            "banners",
            "Banners",
            pg.ContentSource.STALE,
            "trk-b",
            [
                pg.Banner(
                    id=f"bn{n}", title=f"Banner {n}", target_url="https://x/y", image_url=None
                )
                for n in range(3)
            ],
        ),
        pg.BrandCarousel(
            "brands",
            "Brands",
            pg.ContentSource.DEFAULT,
            "trk-br",
            [pg.Brand(id=f"b{n}", name=f"Brand {n}") for n in range(6)],
        ),
    ]
    edges = [pg.VenueEdge(cursor=f"cur{n}", node=venue(n)) for n in range(venues)]
    return {
        "discovery": pg.DiscoveryPage(
            "req-d", venue_carousels(sections, venues) + mixed[2:], False
        ),
        "category": pg.CategoryPage(
            request_id="req-c",
            category=pg.Category(slug="pizza", name="Pizza", image_url="https://img/c.png"),
            venues=pg.VenueConnection(
                edges=edges,
                page_info=pg.PageInfo(True, False, "cur0", f"cur{venues - 1}"),
                total_count=123,
            ),
            source=pg.ContentSource.CANDIDATE_ORDER,
            degraded=True,
        ),
        "venuePage": pg.VenuePage("req-v", venue(3), mixed, False),
        "cart": pg.CartPage("req-cart", mixed[2:3], False),
    }


@dataclass
class PreparedSurfaces:
    """Answers each surface with a prepared page (the bench's ``Surfaces``)."""

    pages: dict[str, Any]
    calls: list[str] = field(default_factory=list)

    async def discovery(self, *_args: Any) -> Any:
        return self.pages["discovery"]

    async def category(self, *_args: Any) -> Any:
        return self.pages["category"]

    async def venue_page(self, *_args: Any) -> Any:
        return self.pages["venuePage"]

    async def cart(self, *_args: Any) -> Any:
        return self.pages["cart"]


def context(surfaces: PreparedSurfaces) -> GatewayContext:
    scope = RequestScope.arrived_at(Viewer(request_id="bench", user_id=None), time.monotonic())
    return GatewayContext(surfaces=surfaces, scope=scope)  # type: ignore[arg-type]


def discovery_document() -> str:
    from schema.operations import OPERATIONS_DIR, operation_document

    return operation_document(OPERATIONS_DIR / "discovery.graphql")


def count_values(value: Any) -> int:
    if isinstance(value, dict):
        return sum(count_values(v) for v in value.values())
    if isinstance(value, list):
        return sum(count_values(v) for v in value)
    return 1


async def _cpu_per_call(run: Callable[[], Awaitable[Any]], seconds: float) -> float:
    """CPU seconds per call (process time), after a warm-up, GC as in production (frozen)."""
    for _ in range(20):
        await run()
    gc.collect()
    gc.freeze()
    calls = 0
    started_wall = time.perf_counter()
    started = time.process_time()
    while time.perf_counter() - started_wall < seconds:
        for _ in range(20):
            await run()
        calls += 20
    return (time.process_time() - started) / calls


async def measure(sections: int, venues: int, seconds: float) -> dict[str, float]:
    from gateway.app import gateway_schema

    configure_logging(level="ERROR")  # the access log line per operation is not measured
    logging.getLogger("gateway").setLevel(logging.ERROR)
    strawberry_schema = gateway_schema(Limits())
    graphql_schema = strawberry_schema._schema
    surfaces = PreparedSurfaces({"discovery": discovery_page(sections, venues)})
    query = discovery_document()
    document = parse(query)
    variables = {"location": HELSINKI}
    compiled = compile_operation(graphql_schema, document, None)
    assert isinstance(compiled, CompiledOperation)

    async def via_strawberry() -> Any:
        result = await strawberry_schema.execute(
            query, variable_values=variables, context_value=context(surfaces)
        )
        assert not result.errors, result.errors
        return result.data

    async def via_graphql_core() -> Any:
        result = execute(
            graphql_schema, document, variable_values=variables, context_value=context(surfaces)
        )
        if inspect.isawaitable(result):
            result = await result
        assert isinstance(result, ExecutionResult)
        return result.data

    path = CompiledPath(strawberry_schema, documents=[query])
    served = path.lookup(query, None)
    assert served is not None

    async def via_compiled_served() -> Any:
        result = await path.execute(
            served,
            query=query,
            variables=variables,
            operation_name=None,
            context=context(surfaces),
        )
        assert not result.errors, result.errors
        return result.data

    async def via_compiled() -> Any:
        ctx = context(surfaces)
        response = await compiled.execute(variables, root_caller(compiled, ctx), context=ctx)
        return response["data"]

    expected = await via_strawberry()
    assert await via_graphql_core() == expected
    assert await via_compiled() == expected
    assert await via_compiled_served() == expected
    results = {
        "values": float(count_values(expected)),
        "strawberry": await _cpu_per_call(via_strawberry, seconds),
        "graphql-core": await _cpu_per_call(via_graphql_core, seconds),
        "compiled+ext": await _cpu_per_call(via_compiled_served, seconds),
        "compiled": await _cpu_per_call(via_compiled, seconds),
    }
    assert compiled.standard_executions == served.standard_executions == 0
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sections", type=int, default=7)
    parser.add_argument("--venues", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=2.0, help="per variant")
    args = parser.parse_args(argv)
    results = asyncio.run(measure(args.sections, args.venues, args.seconds))
    values = int(results.pop("values"))
    print(f"Discovery: {args.sections} sections x {args.venues} venues, {values} response values")
    compiled = results["compiled"]
    for name, seconds in results.items():
        print(f"  {name:<13} {seconds * 1000:8.3f} ms CPU/execution  x{seconds / compiled:5.1f}")


if __name__ == "__main__":
    main()
