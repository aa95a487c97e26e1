"""Reference data carries its age: past ``PGW_REFERENCE_MAX_AGE_S`` a section served from it
is STALE and the page degraded; fresh (or without a limit) it is POPULAR."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from clients.reference import ReferenceSnapshot, ReferenceStore
from tests.gateway.conftest import GatewayFactory

#: The fakes' snapshot says it was generated on 2026-11-01: years old by any test's clock
#: past 2027, and at least a month old now.
MONTH_S = 30 * 86_400.0


def _sources(page: dict[str, object]) -> dict[str, str]:
    sections = page["sections"]
    assert isinstance(sections, list)
    return {s["id"]: s["source"] for s in sections}


async def test_old_reference_data_is_stale_and_the_page_degraded(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway(reference_max_age_s=MONTH_S / 30) as gw:
        page = await gw.discovery(user="u0001")
    sources = _sources(page)
    # the banners come from reference data alone (no hydration): STALE whatever the load
    assert sources["banners"] == "STALE", sources
    # the popularity list is never passed off as fresh (STALE, or a later fallback when a
    # loaded machine times out its hydration)
    assert sources["popular_near_you"] in ("STALE", "DEFAULT"), sources
    assert page["degraded"] is True


async def test_without_a_limit_the_snapshot_is_served_as_popular(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway() as gw:
        page = await gw.discovery(user="u0001")
    assert _sources(page)["popular_near_you"] == "POPULAR"


def test_the_store_knows_each_lists_age(tmp_path: Path) -> None:
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    store = ReferenceStore(max_age_s=3600, clock=lambda: now)
    store.apply(
        ReferenceSnapshot(
            generated_at=now - timedelta(hours=5),
            popular={"city/helsinki/venue": ["v1"]},
            banners={},
        )
    )
    assert store.age_s("popular:city/helsinki/venue") == 5 * 3600
    assert store.popular_is_stale("city", "helsinki", "venue")
    store.apply(ReferenceSnapshot(popular={"city/helsinki/venue": ["v2"]}), as_of=now)
    assert not store.popular_is_stale("city", "helsinki", "venue")  # a refresh renews it
    assert store.banners_are_stale("helsinki")  # never loaded: unknown age counts as old
    assert not ReferenceStore().popular_is_stale("city", "helsinki", "venue")  # no limit
