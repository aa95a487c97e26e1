"""``/preview``: a viewer's four surfaces drawn the way an app would, for people who would
rather look than read JSON (development and demo only; decision 0019).

Server-rendered HTML, no script: carousels of venue and item cards, banners, category and
brand tiles, each section with its ``source`` and the step its fallback chain took, each page
with its ``degraded`` flag and the backend calls it made (time, cache, outcome). A form picks
the viewer (anonymous or a demo user) and the location (a market's centre or any point). In
the demo (``PGW_ENVIRONMENT=demo``, reference backends) a second form switches each reference
backend's faults (``PUT``/``DELETE /_faults``), so anyone can watch a page fall back and
recover.

The pages are built by the same ``resolvers.Surfaces`` the GraphQL root fields call, without
the page cache (a page cached while healthy would hide the fault just switched on). The venue
page shows the first venue of the discovery page, the category page its first category tile,
the cart that venue's first item.
"""

from __future__ import annotations

import asyncio
import html
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import parse_qs

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from clients.contracts.ports import BACKEND_NAMES
from gateway.settings import Settings
from resolvers import Surfaces, Viewer
from resolvers.errors import ClientError
from resolvers.page import (
    AnySection,
    Banner,
    BannerCarousel,
    Brand,
    BrandCarousel,
    Category,
    CategoryTiles,
    Item,
    ItemCarousel,
    Venue,
    VenueCarousel,
)
from resolvers.plans import Plans
from resolvers.request import PageReport, RequestScope
from resolvers.surfaces import CartLine

#: Environments where ``/preview`` exists.
PREVIEW_ENVIRONMENTS: Final = ("development", "demo")

#: The viewers the picker offers (anonymous first).
VIEWERS: Final = ("", "u0001", "u0042", "u0777", "u2024", "u4999")

Fault = Literal["healthy", "down", "slow", "hang"]

#: What each fault switch sends to ``PUT /_faults`` (``healthy`` deletes the faults).
FAULTS: Final[dict[str, dict[str, Any]]] = {
    "down": {"error_rate": 1.0, "status": 500},
    "slow": {"latency_ms": 400.0},
    "hang": {"hang": True},
}


@dataclass
class Surface:
    """One built surface: its title, sections, degraded flag, traces, or the error it raised."""

    name: str
    detail: str
    sections: Sequence[AnySection] = ()
    degraded: bool = False
    traces: list[PageReport] = field(default_factory=list)
    error: str | None = None
    venue: Venue | None = None


def _scope(user_id: str | None) -> RequestScope:
    viewer = Viewer(request_id=os.urandom(16).hex(), user_id=user_id)
    return RequestScope.arrived_at(viewer, time.monotonic())


async def _surface(
    name: str, detail: str, user_id: str | None, build: Any, *args: Any
) -> tuple[Surface, Any]:
    scope = _scope(user_id)
    try:
        page = await build(scope, *args)
    except ClientError as exc:
        return Surface(name, detail, traces=scope.report.pages, error=str(exc)), None
    sections = getattr(page, "sections", ())
    if name == "Category":
        sections = [
            VenueCarousel(
                id="venues",
                title=f"{page.category.name}: {page.venues.total_count} venues",
                source=page.source,
                tracking_id="",
                venues=[edge.node for edge in page.venues.edges],
            )
        ]
    found = Surface(
        name,
        detail,
        sections,
        page.degraded,
        scope.report.pages,
        venue=getattr(page, "venue", None),
    )
    return found, page


async def build_surfaces(
    surfaces: Surfaces, user_id: str | None, lat: float, lon: float
) -> list[Surface]:
    """The four surfaces for this viewer and location, as an app would open them."""
    discovery, page = await _surface(
        "Discovery", "home feed", user_id, surfaces.discovery, lat, lon
    )
    venues = [
        v for s in (page.sections if page else ()) if isinstance(s, VenueCarousel) for v in s.venues
    ]
    tiles = [
        c
        for s in (page.sections if page else ())
        if isinstance(s, CategoryTiles)
        for c in s.categories
    ]
    slug = tiles[0].slug if tiles else "pizza"
    venue_id = venues[0].id if venues else None

    async def venue_and_cart() -> list[Surface]:
        if venue_id is None:
            return [Surface("Venue page", "", error="the discovery page showed no venue")]
        venue, venue_page = await _surface(
            "Venue page", venue_id, user_id, surfaces.venue_page, venue_id, lat, lon
        )
        items = [
            i
            for s in (venue_page.sections if venue_page else ())
            if isinstance(s, ItemCarousel)
            for i in s.items
        ]
        if not items:
            return [venue, Surface("Cart", "", error="the venue page showed no item")]
        lines = [CartLine(item_id=items[0].id, quantity=1)]
        cart, _ = await _surface(
            "Cart", f"1 × {items[0].name}", user_id, surfaces.cart, venue_id, lines, lat, lon
        )
        return [venue, cart]

    category_task = _surface("Category", slug, user_id, surfaces.category, slug, lat, lon, 10, None)
    (category, _), rest = await asyncio.gather(category_task, venue_and_cart())
    return [discovery, category, *rest]


# -- HTML -------------------------------------------------------------------------------------

_STYLE: Final = """
body { font-family: system-ui, sans-serif; margin: 0; background: #f4f4f6; color: #1d1d1f; }
header { background: #1d1d1f; color: #fff; padding: 12px 24px; display: flex; gap: 24px;
  align-items: center; flex-wrap: wrap; }
header h1 { font-size: 18px; margin: 0; }
header form { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
header input[type=number] { width: 7em; }
main { padding: 16px 24px; display: grid; gap: 24px; grid-template-columns: minmax(0, 1fr); }
.surface { background: #fff; border-radius: 12px; padding: 16px; }
.surface h2 { margin: 0 0 8px; font-size: 20px; }
.badge { display: inline-block; border-radius: 8px; padding: 1px 8px; font-size: 12px;
  font-weight: 600; background: #e8e8ed; margin-left: 6px; vertical-align: middle; }
.degraded { background: #ffd60a; } .healthy { background: #b8f2c6; }
.source-PERSONALISED { background: #cfe3ff; } .source-POPULAR { background: #ffe0c2; }
.source-STALE { background: #ffd60a; } .source-DEFAULT { background: #ffc9c9; }
.section { margin: 12px 0; } .section h3 { font-size: 15px; margin: 0 0 6px; }
.step { color: #6e6e73; font-size: 12px; margin-left: 6px; }
.carousel { display: flex; gap: 10px; overflow-x: auto; padding-bottom: 6px; }
.card { flex: 0 0 160px; border: 1px solid #e0e0e5; border-radius: 10px; padding: 8px;
  font-size: 13px; background: #fafafc; }
.card .img { height: 64px; border-radius: 6px; margin-bottom: 6px; }
.card b { display: block; margin-bottom: 2px; }
.card small { color: #6e6e73; display: block; }
.banner { flex: 0 0 300px; } .banner .img { height: 80px; }
.tile { flex: 0 0 110px; text-align: center; }
.closed { opacity: .55; }
table.calls { border-collapse: collapse; font-size: 12px; margin-top: 8px; }
table.calls td, table.calls th { border-bottom: 1px solid #eee; padding: 2px 10px 2px 0;
  text-align: left; }
.error { color: #b00020; }
.faults { background: #fff; border-radius: 12px; padding: 12px 16px; }
.faults form { display: inline-flex; gap: 4px; margin: 4px 16px 4px 0; align-items: center; }
.faults button[aria-pressed=true] { font-weight: 700; outline: 2px solid #1d1d1f; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _colour(key: str) -> str:
    """A stable placeholder colour per entity (no images are loaded: they live elsewhere)."""
    return f"hsl({sum(key.encode()) * 37 % 360} 55% 78%)"


def _venue_card(venue: Venue) -> str:
    facts = [
        f"★ {venue.rating:.1f}" if venue.rating is not None else "not rated",
        f"{venue.delivery_minutes} min" if venue.delivery_minutes is not None else "",
        f"{venue.distance_meters / 1000:.1f} km" if venue.distance_meters is not None else "",
    ]
    return (
        f'<div class="card venue{"" if venue.is_open else " closed"}" data-id="{_e(venue.id)}">'
        f'<div class="img" style="background:{_colour(venue.id)}"></div>'
        f"<b>{_e(venue.name)}</b><small>{_e(' · '.join(f for f in facts if f))}</small>"
        f"<small>{'open' if venue.is_open else 'closed'}"
        f"{' · ' + _e(venue.reason) if venue.reason else ''}</small></div>"
    )


def _item_card(item: Item) -> str:
    price = f"{item.price.amount / 100:.2f} {item.price.currency}"
    return (
        f'<div class="card item" data-id="{_e(item.id)}">'
        f'<div class="img" style="background:{_colour(item.id)}"></div>'
        f"<b>{_e(item.name)}</b><small>{_e(price)}</small>"
        f"{'<small>' + _e(item.reason) + '</small>' if item.reason else ''}</div>"
    )


def _banner(banner: Banner) -> str:
    return (
        f'<div class="card banner" data-id="{_e(banner.id)}">'
        f'<div class="img" style="background:{_colour(banner.id)}"></div>'
        f"<b>{_e(banner.title)}</b></div>"
    )


def _tile(entity: Category | Brand) -> str:
    key = entity.slug if isinstance(entity, Category) else entity.id
    return (
        f'<div class="card tile" data-id="{_e(key)}">'
        f'<div class="img" style="background:{_colour(key)}"></div>'
        f"<b>{_e(entity.name)}</b></div>"
    )


def _section(section: AnySection, step: str | None) -> str:
    if isinstance(section, VenueCarousel):
        cards = "".join(_venue_card(v) for v in section.venues)
    elif isinstance(section, ItemCarousel):
        cards = "".join(_item_card(i) for i in section.items)
    elif isinstance(section, BannerCarousel):
        cards = "".join(_banner(b) for b in section.banners)
    elif isinstance(section, CategoryTiles):
        cards = "".join(_tile(c) for c in section.categories)
    elif isinstance(section, BrandCarousel):
        cards = "".join(_tile(b) for b in section.brands)
    else:  # pragma: no cover - every section kind is listed above
        cards = ""
    source = section.source.name
    return (
        f'<div class="section" data-section="{_e(section.id)}" data-source="{_e(source)}">'
        f"<h3>{_e(section.title)}"
        f'<span class="badge source-{_e(source)}">{_e(source)}</span>'
        f"{f'<span class=step>{_e(step)}</span>' if step else ''}</h3>"
        f'<div class="carousel">{cards}</div></div>'
    )


def _calls(traces: Sequence[PageReport]) -> str:
    rows = "".join(
        f"<tr><td>{_e(c.backend)}</td><td>{_e(c.endpoint)}</td><td>{c.elapsed_ms:.1f} ms</td>"
        f"<td>{_e(c.cache)}</td><td>{_e(c.outcome)}</td></tr>"
        for trace in traces
        for c in trace.calls
    )
    failures = "; ".join(f for trace in traces for f in trace.failures)
    return (
        '<table class="calls"><tr><th>backend</th><th>endpoint</th><th>time</th><th>cache</th>'
        f"<th>outcome</th></tr>{rows}</table>"
        + (f'<p class="error">failures: {_e(failures)}</p>' if failures else "")
    )


def _surface_html(surface: Surface) -> str:
    state = "degraded" if surface.degraded else "healthy"
    badge = f'<span class="badge {state}" data-degraded="{str(surface.degraded).lower()}">'
    head = f"<h2>{_e(surface.name)} <small>{_e(surface.detail)}</small>{badge}{state}</span></h2>"
    if surface.error is not None:
        return (
            f'<section class="surface" data-surface="{_e(surface.name)}">{head}'
            f'<p class="error">{_e(surface.error)}</p>{_calls(surface.traces)}</section>'
        )
    steps: dict[str, str] = {}
    for trace in surface.traces:
        steps.update(trace.sections)
    venue = f'<div class="carousel">{_venue_card(surface.venue)}</div>' if surface.venue else ""
    body = "".join(_section(s, steps.get(s.id)) for s in surface.sections)
    return (
        f'<section class="surface" data-surface="{_e(surface.name)}">{head}{venue}{body}'
        f"{_calls(surface.traces)}</section>"
    )


def _picker(plans: Plans, user: str, lat: float, lon: float) -> str:
    viewers = "".join(
        f'<option value="{_e(v)}"{" selected" if v == user else ""}>{_e(v or "anonymous")}</option>'
        for v in VIEWERS
    )
    markets = "".join(
        f'<option value="{m.center.lat},{m.center.lon}"'
        f"{' selected' if (m.center.lat, m.center.lon) == (lat, lon) else ''}>{_e(m.name)}</option>"
        for m in plans.markets
    )
    return (
        '<form method="get" action="/preview" id="picker">'
        f'<label>viewer <select name="user">{viewers}</select></label>'
        f'<label>market <select name="market"><option value="">custom point</option>{markets}'
        "</select></label>"
        f'<label>lat <input type="number" step="any" name="lat" value="{lat}"></label>'
        f'<label>lon <input type="number" step="any" name="lon" value="{lon}"></label>'
        '<button type="submit">Show</button></form>'
    )


def _fault_switches(states: dict[str, str], query: str) -> str:
    forms = []
    for backend in BACKEND_NAMES:
        current = states.get(backend, "unknown")
        buttons = "".join(
            f'<button name="fault" value="{fault}" aria-pressed="{str(fault == current).lower()}"'
            f">{fault}</button>"
            for fault in ("healthy", "down", "slow", "hang")
        )
        forms.append(
            f'<form method="post" action="/preview/faults" data-backend="{backend}">'
            f'<input type="hidden" name="backend" value="{backend}">'
            f'<input type="hidden" name="back" value="{_e(query)}">'
            f"<b>{backend}</b>{buttons}</form>"
        )
    return (
        '<div class="faults"><b>Reference backends (demo):</b> switch a fault, then watch the '
        f"pages fall back and recover.<br>{''.join(forms)}</div>"
    )


def render(
    plans: Plans,
    surfaces: list[Surface],
    *,
    user: str,
    lat: float,
    lon: float,
    faults: dict[str, str] | None,
    query: str,
) -> str:
    """The whole preview page."""
    switches = _fault_switches(faults, query) if faults is not None else ""
    body = "".join(_surface_html(s) for s in surfaces)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Preview · {_e(user or 'anonymous')}</title><style>{_STYLE}</style></head><body>"
        f"<header><h1>Page preview</h1>{_picker(plans, user, lat, lon)}</header>"
        f"<main>{switches}{body}</main></body></html>"
    )


# -- faults of the reference backends ---------------------------------------------------------


def _state(config: dict[str, Any]) -> str:
    if config.get("hang"):
        return "hang"
    if config.get("error_rate", 0) >= 1:
        return "down"
    if config.get("latency_ms", 0) > 0:
        return "slow"
    return "healthy"


async def fault_states(settings: Settings) -> dict[str, str]:
    """Each reference backend's current fault (``unknown`` when it does not answer)."""
    configs = settings.backend_configs()

    async def one(client: httpx.AsyncClient, name: str) -> tuple[str, str]:
        try:
            answer = await client.get(f"{configs[name].base_url}/_faults")
            return name, _state(answer.json()) if answer.status_code == 200 else "unknown"
        except (httpx.HTTPError, ValueError):
            return name, "unknown"

    async with httpx.AsyncClient(timeout=1.0) as client:
        return dict(await asyncio.gather(*(one(client, n) for n in BACKEND_NAMES)))


async def switch_fault(settings: Settings, backend: str, fault: Fault) -> None:
    """``PUT`` (or, for ``healthy``, ``DELETE``) the reference backend's ``/_faults``."""
    url = f"{settings.backend_configs()[backend].base_url}/_faults"
    async with httpx.AsyncClient(timeout=2.0) as client:
        if fault == "healthy":
            await client.delete(url)
        else:
            await client.put(url, json=FAULTS[fault])


# -- routes -----------------------------------------------------------------------------------


def _number(raw: str | None, default: float) -> float:
    try:
        return float(raw) if raw not in (None, "") else default
    except ValueError:
        return default


def mount_preview(app: FastAPI, settings: Settings, surfaces: Any, plans: Plans) -> None:
    """Add ``GET /preview`` (and, in the demo, ``POST /preview/faults``).

    ``surfaces`` is a zero-argument callable returning the running ``Surfaces`` (the
    lifespan creates them), so the route can be added before start-up.
    """
    demo = settings.environment == "demo"
    home = plans.markets[0].center

    @app.get("/preview", include_in_schema=False, response_class=HTMLResponse)
    async def preview(request: Request) -> HTMLResponse:
        params = request.query_params
        user = params.get("user", "u0042")
        user = user if user in VIEWERS else "u0042"
        market = params.get("market")
        if market:
            lat_text, _, lon_text = market.partition(",")
            lat, lon = _number(lat_text, home.lat), _number(lon_text, home.lon)
        else:
            lat, lon = _number(params.get("lat"), home.lat), _number(params.get("lon"), home.lon)
        running: Surfaces = surfaces().without_page_cache()
        built = await build_surfaces(running, user or None, lat, lon)
        faults = await fault_states(settings) if demo else None
        page = render(
            plans, built, user=user, lat=lat, lon=lon, faults=faults, query=str(request.url.query)
        )
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    if not demo:
        return

    @app.post("/preview/faults", include_in_schema=False)
    async def faults(request: Request) -> Response:
        # a plain urlencoded form: parsed here rather than adding python-multipart
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8")).items()}
        backend, fault, back = form.get("backend"), form.get("fault"), form.get("back", "")
        if backend not in BACKEND_NAMES or fault not in ("healthy", "down", "slow", "hang"):
            return HTMLResponse("unknown backend or fault", status_code=400)
        await switch_fault(settings, backend, fault)  # type: ignore[arg-type]
        return RedirectResponse(f"/preview?{back}" if back else "/preview", status_code=303)
