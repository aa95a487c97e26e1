"""PageCache on its own: the key, the TTL, the bound and the refusal of degraded pages."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from clients.contracts import Location
from clients.contracts.common import Surface
from clients.deadline import Deadline
from gateway.settings import DATA_DIR
from resolvers.engine import BuiltSection
from resolvers.page import ContentSource
from resolvers.page_cache import PageCache
from resolvers.plans import load_plans
from resolvers.request import PageReport, PageRequest, SurfaceInputs

PLANS = load_plans(DATA_DIR / "plans.yaml")
NOON = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


DISCOVERY = SurfaceInputs(Surface.DISCOVERY)


def request(**overrides: object) -> PageRequest:
    values: dict[str, object] = {
        "request_id": "r1",
        "user_id": "u0001",
        "location": Location(lat=60.1699, lon=24.9384),
        "market": None,
        "local_now": NOON,
        "deadline": Deadline.after(1),
        "reserve_s": 0.01,
        "inputs": DISCOVERY,
    }
    values.update(overrides)
    return PageRequest(**values)  # type: ignore[arg-type]


def sections() -> list[BuiltSection]:
    plan = PLANS.surface(Surface.DISCOVERY).sections[0]
    return [BuiltSection(plan, ContentSource.PERSONALISED, [], degraded=False)]


def test_a_kept_page_is_replayed_into_the_next_trace() -> None:
    cache = PageCache(30, 10)
    key = cache.key(request())
    built = request().report
    built.sections = {"banners": "ranked"}
    cache.put(key, sections(), built, degraded=False)
    trace = PageReport()
    page = cache.get(key)
    assert page is not None
    replayed = page.replay(trace, "discovery")
    assert [b.plan.id for b in replayed] == [b.plan.id for b in sections()]
    assert trace.page_cache == "hit"
    assert trace.sections == {"banners": "ranked"}
    assert trace.sources == {replayed[0].plan.id: "PERSONALISED"}
    assert not trace.degraded


def test_entries_expire_between_80_and_100_percent_of_the_ttl() -> None:
    now = [0.0]
    cache = PageCache(20, 1000, clock=lambda: now[0], rng=random.Random(7))
    keys = [cache.key(request(user_id=f"u{n}")) for n in range(200)]
    for key in keys:
        cache.put(key, sections(), PageReport(), degraded=False)
    now[0] = 15.9
    assert all(cache.get(k) is not None for k in keys)
    now[0] = 18.0
    alive = sum(cache.get(k) is not None for k in keys)
    assert 0 < alive < len(keys)  # spread out, not all at once
    now[0] = 20.1
    assert all(cache.get(k) is None for k in keys)


def test_degraded_or_late_pages_are_not_kept() -> None:
    cache = PageCache(30, 10)
    key = cache.key(request())
    cache.put(key, sections(), PageReport(), degraded=True)
    late = PageReport(deadline_exceeded=True)
    cache.put(key, sections(), late, degraded=False)
    assert cache.get(key) is None
    assert len(cache) == 0


def test_the_number_of_pages_is_bounded() -> None:
    cache = PageCache(30, 3)
    for n in range(10):
        cache.put(cache.key(request(user_id=f"u{n}")), sections(), PageReport(), degraded=False)
    assert len(cache) == 3
    assert cache.get(cache.key(request(user_id="u9"))) is not None
    assert cache.get(cache.key(request(user_id="u0"))) is None


def test_zero_ttl_or_size_turns_it_off() -> None:
    for cache in (PageCache(0, 10), PageCache(30, 0)):
        assert not cache.enabled
        key = cache.key(request())
        cache.put(key, sections(), PageReport(), degraded=False)
        assert cache.get(key) is None


def test_the_key_holds_everything_the_build_reads() -> None:
    base = PageCache.key(request())
    same = [
        PageCache.key(request(request_id="r2", deadline=Deadline.after(5))),
        # ~5 m away: within a phone's fix jitter
        PageCache.key(request(location=Location(lat=60.16993, lon=24.93842))),
        # a later minute of the same hour: the TTL, not the key, bounds open-now's lag
        PageCache.key(request(local_now=NOON.replace(minute=59))),
    ]
    assert all(k == base for k in same)
    different = [
        request(user_id=None),
        request(user_id="u0002"),
        request(ranking_variant="treatment"),
        request(hidden_sections=frozenset({"brands"})),
        request(platform="ios"),
        request(location=Location(lat=60.1709, lon=24.9384)),
        request(local_now=NOON.replace(hour=13)),
    ]
    assert all(PageCache.key(r) != base for r in different)
    inputs = [
        SurfaceInputs(Surface.CATEGORY, category="pizza"),
        SurfaceInputs(Surface.CATEGORY, category="sushi"),
        SurfaceInputs(Surface.CART, venue_id="v1", cart_item_ids=("i1",)),
        SurfaceInputs(Surface.CART, venue_id="v1", cart_item_ids=("i1", "i2")),
    ]
    keys = {PageCache.key(request(inputs=i)) for i in inputs}
    assert len(keys) == len(inputs)
    assert base not in keys
    reordered = SurfaceInputs(Surface.CART, venue_id="v1", cart_item_ids=("i2", "i1"))
    assert PageCache.key(request(inputs=reordered)) == PageCache.key(request(inputs=inputs[3]))
