"""CatalogClient: entity-level caching, negative caching, batching, stale on failure."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from clients import BackendUnavailable, CacheResult, CatalogClient, Deadline, ResponseCache
from clients.catalog import MAX_BATCH
from clients.contracts import (
    BannerEntity,
    BannersBatch,
    BrandEntity,
    BrandsBatch,
    CategoriesResponse,
    CategoryEntity,
    ItemEntity,
    ItemsBatch,
    Money,
    OpeningInterval,
    VenueEntity,
    VenuesBatch,
)
from tests.clients.conftest import FakeClock, backend_config, json_response, transport


def venue(venue_id: str) -> VenueEntity:
    return VenueEntity(
        id=venue_id,
        name=f"Venue {venue_id}",
        slug=venue_id,
        city="helsinki",
        lat=60.17,
        lon=24.94,
        delivery_radius_m=3000,
        timezone="Europe/Helsinki",
        opening_hours=[OpeningInterval(weekday=0, opens="10:00", closes="22:00")],
        price_level=2,
    )


class FakeCatalog:
    """Answers batchGet from a fixed set of venues and records the ids asked for."""

    def __init__(self, known: set[str]) -> None:
        self.known = known
        self.asked: list[list[str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        ids: list[str] = json.loads(request.content)["ids"]
        self.asked.append(ids)
        batch = VenuesBatch(
            entities=[venue(i) for i in ids if i in self.known],
            missing=[i for i in ids if i not in self.known],
        )
        return json_response(batch)


def catalog_client(router: respx.MockRouter, cache: ResponseCache, **config: Any) -> CatalogClient:
    values: dict[str, Any] = {"cache_ttl_s": 300.0}
    values.update(config)
    return CatalogClient("catalog", backend_config(**values), cache, transport=transport(router))


async def test_only_uncached_ids_go_to_the_backend(
    router: respx.MockRouter, cache: ResponseCache
) -> None:
    fake = FakeCatalog({"a", "b", "c", "d"})
    router.post("/v1/venues:batchGet").mock(side_effect=fake)
    async with catalog_client(router, cache) as client:
        first = await client.venues(["b", "c", "d"], Deadline.after(1))
        second = await client.venues(["a", "b", "c"], Deadline.after(1))
        third = await client.venues(["c", "a"], Deadline.after(1))
    assert fake.asked == [["b", "c", "d"], ["a"]]
    assert list(first.value) == ["b", "c", "d"]
    assert list(second.value) == ["a", "b", "c"]  # in the order asked
    assert second.value["a"] == venue("a")
    assert first.cache is CacheResult.MISS
    assert (third.cache, third.attempts) == (CacheResult.HIT, 0)


async def test_missing_ids_are_absent_and_cached_negatively(
    router: respx.MockRouter, cache: ResponseCache
) -> None:
    fake = FakeCatalog({"a"})
    router.post("/v1/venues:batchGet").mock(side_effect=fake)
    async with catalog_client(router, cache) as client:
        first = await client.venues(["a", "ghost"], Deadline.after(1))
        second = await client.venues(["ghost", "a"], Deadline.after(1))
    assert list(first.value) == ["a"]
    assert second.value == {"a": venue("a")}
    assert second.cache is CacheResult.HIT
    assert fake.asked == [["a", "ghost"]]


async def test_large_requests_are_split_into_batches_of_500(
    router: respx.MockRouter, cache: ResponseCache
) -> None:
    ids = [f"v{n}" for n in range(1200)]
    fake = FakeCatalog(set(ids))
    router.post("/v1/venues:batchGet").mock(side_effect=fake)
    async with catalog_client(router, cache) as client:
        # 1,200 entities to validate and cache: the deadline is not what this test is about,
        # so it is far (>3x) beyond what the work takes on a loaded machine
        fetched = await client.venues(ids + ids[:10], Deadline.after(10))
    assert sorted(len(batch) for batch in fake.asked) == [200, MAX_BATCH, MAX_BATCH]
    assert list(fetched.value) == ids


async def test_stale_entities_are_served_when_the_catalog_fails(
    router: respx.MockRouter, cache: ResponseCache, epoch: FakeClock
) -> None:
    fake = FakeCatalog({"a", "b"})
    route = router.post("/v1/venues:batchGet").mock(side_effect=fake)
    async with catalog_client(router, cache) as client:
        await client.venues(["a"], Deadline.after(1))
        epoch.advance(301)
        route.mock(side_effect=None, return_value=httpx.Response(500))
        fetched = await client.venues(["a", "b"], Deadline.after(1))
    assert fetched.cache is CacheResult.STALE
    assert fetched.value == {"a": venue("a")}


async def test_failure_with_nothing_cached_raises(
    router: respx.MockRouter, cache: ResponseCache
) -> None:
    router.post("/v1/venues:batchGet").mock(return_value=httpx.Response(500))
    async with catalog_client(router, cache) as client:
        with pytest.raises(BackendUnavailable):
            await client.venues(["a"], Deadline.after(1))
        # the error was not cached: the next call asks again and succeeds
        router.post("/v1/venues:batchGet").mock(side_effect=FakeCatalog({"a"}))
        fetched = await client.venues(["a"], Deadline.after(1))
    assert fetched.value == {"a": venue("a")}


async def test_without_cache_ttl_every_call_fetches(
    router: respx.MockRouter, cache: ResponseCache
) -> None:
    fake = FakeCatalog({"a"})
    router.post("/v1/venues:batchGet").mock(side_effect=fake)
    async with catalog_client(router, cache, cache_ttl_s=None) as client:
        for _ in range(2):
            fetched = await client.venues(["a"], Deadline.after(1))
            assert fetched.cache is CacheResult.BYPASS
    assert len(fake.asked) == 2


async def test_empty_request_makes_no_call(router: respx.MockRouter, cache: ResponseCache) -> None:
    route = router.post("/v1/venues:batchGet")
    async with catalog_client(router, cache) as client:
        fetched = await client.venues([], Deadline.after(1))
    assert fetched.value == {}
    assert route.call_count == 0


async def test_items_brands_and_banners(router: respx.MockRouter, cache: ResponseCache) -> None:
    item = ItemEntity(id="i1", venue_id="a", name="Pizza", price=Money(amount=1290, currency="EUR"))
    brand = BrandEntity(id="b1", name="Chain")
    banner = BannerEntity(id="bn1", title="Deal", target_url="/deal", city="helsinki")
    router.post("/v1/items:batchGet").mock(
        return_value=json_response(ItemsBatch(entities=[item], missing=["i2"]))
    )
    router.post("/v1/brands:batchGet").mock(
        return_value=json_response(BrandsBatch(entities=[brand], missing=[]))
    )
    router.post("/v1/banners:batchGet").mock(
        return_value=json_response(BannersBatch(entities=[banner], missing=[]))
    )
    async with catalog_client(router, cache) as client:
        assert (await client.items(["i1", "i2"], Deadline.after(1))).value == {"i1": item}
        assert (await client.brands(["b1"], Deadline.after(1))).value == {"b1": brand}
        assert (await client.banners(["bn1"], Deadline.after(1))).value == {"bn1": banner}


async def test_city_listings_are_cached(router: respx.MockRouter, cache: ResponseCache) -> None:
    pizza = CategoryEntity(slug="pizza", name="Pizza")
    banner = BannerEntity(id="bn1", title="Deal", target_url="/deal", city="helsinki")
    categories = router.get("/v1/categories", params={"city": "helsinki"}).mock(
        return_value=json_response(CategoriesResponse(categories=[pizza]))
    )
    banners = router.get("/v1/banners", params={"city": "helsinki"}).mock(
        return_value=json_response(BannersBatch(entities=[banner], missing=[]))
    )
    async with catalog_client(router, cache) as client:
        for _ in range(2):
            assert (await client.categories("helsinki", Deadline.after(1))).value == [pizza]
            assert (await client.active_banners("helsinki", Deadline.after(1))).value == [banner]
    assert categories.call_count == 1
    assert banners.call_count == 1
