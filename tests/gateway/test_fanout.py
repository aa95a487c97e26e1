"""The page's latency is its slowest chain, never the sum of its backend calls."""

from __future__ import annotations

import time

from tests.fakes import BACKENDS
from tests.gateway.conftest import Gateway


async def test_discovery_with_every_backend_at_100ms_answers_in_parallel(gateway: Gateway) -> None:
    gateway.fakes.delay(0.04)
    started = time.perf_counter()
    page = await gateway.discovery(user="u0001")
    elapsed = time.perf_counter() - started

    # The first wave (retrieval, the bandit, catalog prefetch) is in flight at once, and
    # catalog hydration overlaps ranking: the critical path is retrieval -> ranking, ~80 ms,
    # under a quarter of Discovery's 300 ms budget so that a loaded CI box still fits it.
    # The overlap is the proof; the wall-clock bound (3x the budget) catches only a page
    # that waits on something else entirely.
    assert gateway.fakes.were_in_flight_together("retrieval", "bandit", "catalog")
    assert gateway.fakes.were_in_flight_together("ranking", "catalog")
    assert elapsed < 3 * 0.3, f"discovery took {elapsed * 1000:.0f} ms"
    assert all(gateway.fakes.calls[name] > 0 for name in BACKENDS if name != "popularity")
    sources = {s["id"]: s["source"] for s in page["sections"]}
    assert sources["for_you"] == "PERSONALISED"  # retrieval + ranking + catalog
    assert sources["banners"] == "PERSONALISED"  # bandit
    assert sources["popular_near_you"] == "POPULAR"  # popularity (kept in memory)
    assert page["degraded"] is False


async def test_venue_page_uses_popularity_backend_in_parallel(gateway: Gateway) -> None:
    # The venue page's budget is 200 ms: two chains of two 30 ms hops (retrieval -> ranking,
    # popularity -> item hydration), run side by side, leave it a 3x margin.
    gateway.fakes.delay(0.03)
    started = time.perf_counter()
    response = await gateway.query(
        'query { venuePage(venueId: "v03", location: {lat: 60.1699, lon: 24.9384}) '
        "{ degraded venue { id } sections { id source } } }",
        user="u0001",
    )
    elapsed = time.perf_counter() - started
    page = response.json()["data"]["venuePage"]
    assert gateway.fakes.were_in_flight_together("retrieval", "popularity")
    assert elapsed < 3 * 0.2, f"venue page took {elapsed * 1000:.0f} ms"
    assert gateway.fakes.calls["popularity"] >= 1
    assert {s["id"]: s["source"] for s in page["sections"]} == {
        "recommended_items": "PERSONALISED",
        "popular_items": "POPULAR",
    }
    assert page["venue"] == {"id": "v03"}


async def test_one_ranking_call_and_one_catalog_batch_per_kind(gateway: Gateway) -> None:
    await gateway.discovery(user="u0001")
    assert [r["path"] for r in gateway.fakes.requests["ranking"]] == ["/v1/rank:batch"]
    assert [r["path"] for r in gateway.fakes.requests["bandit"]] == ["/v1/decide:batch"]
    rank_kinds = [r["kind"] for r in gateway.fakes.rank_requests()]
    # one request per kind; for_you, order_again and new_on_the_app share the venue one
    assert sorted(rank_kinds) == ["brand", "category", "venue"]
    venue_rank = next(r for r in gateway.fakes.rank_requests() if r["kind"] == "venue")
    assert {"v01", "v05", "v21"} <= set(venue_rank["candidate_ids"])
    venue_batches = [r for r in gateway.fakes.requests["catalog"] if "venues" in r["path"]]
    asked = [i for r in venue_batches for i in r["body"]["ids"]]
    assert len(asked) == len(set(asked)), "no venue id is fetched twice for one page"
