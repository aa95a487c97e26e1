"""Micro-benchmark of venue materialisation: CPU per Discovery page's worth of venues.

``python -m bench.materialise [--pages N] [--repeats R]``: 300 contract-valid venues around
Helsinki (opening-hour mixes like the reference dataset's: every day, past midnight, lunch
only, closed on Sundays, dinner only, groceries; a few in other time zones; some out of
delivery range), and one page = six venue sections of 265 ids in all, overlapping the way a
Discovery page's carousels do. Every page gets a fresh ``Audience`` (as every request does)
over the same entity objects (as the catalog cache hands them out). Prints the median over
the repeats of CPU µs (process time) per page and per materialised id.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, datetime

from clients.contracts import BrandEntity, EntityKind, Location, OpeningInterval, VenueEntity
from resolvers.materialise import Audience, CatalogEntity, materialise

HELSINKI = (60.1699, 24.9384)
SECTION_SIZES = (60, 55, 50, 40, 35, 25)  # 265 ids per page
ZONES = ("Europe/Helsinki",) * 8 + ("Europe/Stockholm", "Europe/Tallinn")


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _hours(rng: random.Random) -> list[OpeningInterval]:
    kind = rng.choices(range(6), weights=[40, 15, 10, 20, 15, 10])[0]
    if kind == 0:  # standard, every day
        o, c = rng.choice([9, 10, 11]) * 60, rng.choice([21, 22, 23]) * 60
        spec = [(d, o, c) for d in range(7)]
    elif kind == 1:  # late night: past midnight, later at weekends
        spec = [(d, 11 * 60, (3 if d in (4, 5) else 1) * 60) for d in range(7)]
    elif kind == 2:  # lunch only, weekdays
        spec = [(d, 10 * 60 + 30, 15 * 60) for d in range(5)]
    elif kind == 3:  # closed on Sundays
        spec = [(d, 10 * 60, 21 * 60) for d in range(6)]
    elif kind == 4:  # dinner only
        spec = [(d, 16 * 60, 23 * 60) for d in range(7)]
    else:  # grocery
        spec = [(d, 7 * 60, 23 * 60) for d in range(7)]
    return [OpeningInterval(weekday=d, opens=_hhmm(o), closes=_hhmm(c)) for d, o, c in spec]


def venues(n: int = 300, seed: int = 7) -> dict[str, VenueEntity]:
    rng = random.Random(seed)
    brands = [BrandEntity(id=f"b{b:03d}", name=f"Brand {b}") for b in range(20)]
    out: dict[str, VenueEntity] = {}
    for i in range(n):
        vid = f"v{i:05d}"
        brand = rng.choice(brands) if rng.random() < 0.3 else None
        out[vid] = VenueEntity(
            id=vid,
            name=f"Venue {i}",
            slug=f"venue-{i}",
            city="helsinki",
            lat=round(HELSINKI[0] + rng.uniform(-0.045, 0.045), 6),
            lon=round(HELSINKI[1] + rng.uniform(-0.08, 0.08), 6),
            delivery_radius_m=rng.choice([3000, 4000, 5000, 6000]),
            timezone=rng.choice(ZONES),
            opening_hours=_hours(rng),
            rating=round(rng.uniform(6, 10), 1),
            delivery_minutes=rng.randint(15, 50),
            price_level=rng.randint(1, 4),
            tags=rng.sample(["pizza", "sushi", "burger", "vegan", "thai", "grocery"], 2),
            categories=["pizza"],
            image_url=f"https://img.example/venues/{vid}.jpg",
            brand_id=brand.id if brand else None,
            brand=brand,
        )
    return out


def sections(ids: list[str], seed: int = 11) -> list[tuple[list[str], dict[str, str | None]]]:
    """Six sections drawn from the popular head, so a venue recurs across carousels."""
    rng = random.Random(seed)
    head = ids[:150]
    out: list[tuple[list[str], dict[str, str | None]]] = []
    for n, size in enumerate(SECTION_SIZES):
        chosen = rng.sample(head if n % 2 == 0 else ids, size)
        reasons: dict[str, str | None] = {i: f"because {n}" for i in chosen[::3]}
        out.append((chosen, reasons))
    return out


def run(pages: int, repeats: int) -> tuple[float, float]:
    entities: dict[str, CatalogEntity] = dict(venues())
    page = sections(list(entities))
    location = Location(lat=HELSINKI[0], lon=HELSINKI[1])
    now = datetime(2026, 11, 27, 19, 30, tzinfo=UTC)  # Friday 21:30 in Helsinki: a mix
    per_page = sum(len(ids) for ids, _ in page)

    def one_page() -> None:
        audience = Audience(location=location, now=now)
        for ids, reasons in page:
            materialise(EntityKind.VENUE, ids, entities, audience, reasons)

    for _ in range(max(pages // 5, 20)):  # warm-up: caches as on a warm gateway
        one_page()
    samples: list[float] = []
    for _ in range(repeats):
        started = time.process_time()
        for _ in range(pages):
            one_page()
        samples.append((time.process_time() - started) / pages * 1e6)
    us = statistics.median(samples)
    return us, us / per_page


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pages", type=int, default=500, help="pages per repeat")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    per_page, per_id = run(args.pages, args.repeats)
    print(
        f"materialise: {per_page:.1f} µs per page ({sum(SECTION_SIZES)} venue ids, "
        f"6 sections), {per_id:.2f} µs per id; median of {args.repeats} × {args.pages} pages"
    )


if __name__ == "__main__":
    main()
