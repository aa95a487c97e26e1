"""ReferenceStore: snapshot load, refresh, failure keeps the last good data."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from clients import (
    CatalogClient,
    PopularityClient,
    ReferenceSnapshot,
    ReferenceStore,
    ResponseCache,
)
from clients.contracts import (
    BannerEntity,
    BannersBatch,
    CategoriesResponse,
    CategoryEntity,
    PopularResponse,
)
from tests.clients.conftest import backend_config, json_response, transport

PIZZA = CategoryEntity(slug="pizza", name="Pizza")
SUSHI = CategoryEntity(slug="sushi", name="Sushi")
BANNER = BannerEntity(id="bn1", title="Deal", target_url="/deal", city="helsinki")


def write_snapshot(path: Path) -> Path:
    snapshot = ReferenceSnapshot.model_validate(
        {
            "generated_at": "2026-01-01T00:00:00Z",
            "popular": {
                "city/helsinki/venue": ["v1", "v2"],
                "city/helsinki/item": ["i1"],
                "category/helsinki:pizza/venue": ["v2"],
            },
            "categories": {"helsinki": [PIZZA.model_dump(mode="json")]},
            "banners": {"helsinki": [BANNER.model_dump(mode="json")]},
        }
    )
    path.write_text(snapshot.model_dump_json())
    return path


@pytest.fixture
def snapshot_path(tmp_path: Path) -> Path:
    return write_snapshot(tmp_path / "reference_snapshot.json")


def test_loads_a_snapshot(snapshot_path: Path) -> None:
    store = ReferenceStore.from_snapshot(snapshot_path)
    assert store.loaded
    assert store.refreshed_at is not None
    assert store.popular("city", "helsinki", "venue") == ["v1", "v2"]
    assert store.popular("category", "helsinki:pizza", "venue") == ["v2"]
    assert store.popular("city", "helsinki", "brand") is None
    assert store.categories("helsinki") == [PIZZA]
    assert store.banners("helsinki") == [BANNER]
    assert store.categories("tampere") == []
    assert store.cities == ["helsinki"]


def test_missing_snapshot_starts_empty(tmp_path: Path) -> None:
    store = ReferenceStore.from_snapshot(tmp_path / "nope.json")
    assert not store.loaded
    assert store.popular("city", "helsinki", "venue") is None


def test_invalid_snapshot_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"popular": {"city/helsinki/venue": "not-a-list"}}')
    with pytest.raises(ValueError, match="invalid reference snapshot"):
        ReferenceStore.from_snapshot(path)


def test_returned_lists_are_copies(snapshot_path: Path) -> None:
    store = ReferenceStore.from_snapshot(snapshot_path)
    store.popular("city", "helsinki", "venue").append("x")  # type: ignore[union-attr]
    assert store.popular("city", "helsinki", "venue") == ["v1", "v2"]


def popular_handler(request: httpx.Request) -> httpx.Response:
    params = request.url.params
    ids = [f"{params['scope']}:{params['key']}:{params['kind']}:{n}" for n in range(2)]
    return json_response(PopularResponse(ids=ids, generated_at="2026-01-02T00:00:00Z"))


@pytest.fixture
async def backends(
    router: respx.MockRouter, cache: ResponseCache
) -> AsyncIterator[tuple[PopularityClient, CatalogClient]]:
    config = backend_config(timeout_s=0.5)
    async with (
        PopularityClient("popularity", config, cache, transport=transport(router)) as popularity,
        CatalogClient("catalog", config, cache, transport=transport(router)) as catalog,
    ):
        yield popularity, catalog


async def test_refresh_replaces_lists(
    snapshot_path: Path,
    router: respx.MockRouter,
    backends: tuple[PopularityClient, CatalogClient],
) -> None:
    router.get("/v1/popular").mock(side_effect=popular_handler)
    router.get("/v1/categories").mock(
        return_value=json_response(CategoriesResponse(categories=[PIZZA, SUSHI]))
    )
    router.get("/v1/banners").mock(
        return_value=json_response(BannersBatch(entities=[BANNER], missing=[]))
    )
    store = ReferenceStore.from_snapshot(snapshot_path)
    before = store.refreshed_at
    assert await store.refresh(*backends, ["helsinki"])
    assert store.popular("city", "helsinki", "venue") == [
        "city:helsinki:venue:0",
        "city:helsinki:venue:1",
    ]
    for kind in ("brand", "category", "item"):
        assert store.popular("city", "helsinki", kind) is not None
    assert store.popular("category", "helsinki:sushi", "venue") == [
        "category:helsinki:sushi:venue:0",
        "category:helsinki:sushi:venue:1",
    ]
    assert store.categories("helsinki") == [PIZZA, SUSHI]
    assert store.refreshed_at != before


async def test_failing_refresh_keeps_the_last_good_data(
    snapshot_path: Path,
    router: respx.MockRouter,
    backends: tuple[PopularityClient, CatalogClient],
) -> None:
    router.get("/v1/popular").mock(return_value=httpx.Response(500))
    router.get("/v1/categories").mock(return_value=httpx.Response(503))
    router.get("/v1/banners").mock(side_effect=httpx.ConnectError("down"))
    store = ReferenceStore.from_snapshot(snapshot_path)
    assert not await store.refresh(*backends, ["helsinki"])
    assert store.popular("city", "helsinki", "venue") == ["v1", "v2"]
    assert store.popular("category", "helsinki:pizza", "venue") == ["v2"]
    assert store.categories("helsinki") == [PIZZA]
    assert store.banners("helsinki") == [BANNER]


async def test_partial_failure_updates_what_succeeded(
    snapshot_path: Path,
    router: respx.MockRouter,
    backends: tuple[PopularityClient, CatalogClient],
) -> None:
    router.get("/v1/popular", params={"kind": "item"}).mock(return_value=httpx.Response(500))
    router.get("/v1/popular").mock(side_effect=popular_handler)
    router.get("/v1/categories").mock(return_value=httpx.Response(500))
    router.get("/v1/banners").mock(return_value=httpx.Response(500))
    store = ReferenceStore.from_snapshot(snapshot_path)
    assert not await store.refresh(*backends, ["helsinki"])
    assert store.popular("city", "helsinki", "item") == ["i1"]  # kept
    assert store.popular("city", "helsinki", "venue") == [
        "city:helsinki:venue:0",
        "city:helsinki:venue:1",
    ]
    # categories failed: the known slugs were still used for the category lists
    assert store.popular("category", "helsinki:pizza", "venue") == [
        "category:helsinki:pizza:venue:0",
        "category:helsinki:pizza:venue:1",
    ]


class CountingStore(ReferenceStore):
    def __init__(self) -> None:
        super().__init__()
        self.done = asyncio.Event()

    async def refresh(self, *args: Any, **kwargs: Any) -> bool:
        ok = await super().refresh(*args, **kwargs)
        self.done.set()
        return ok


async def test_run_refresh_refreshes_until_cancelled(
    router: respx.MockRouter,
    backends: tuple[PopularityClient, CatalogClient],
) -> None:
    router.get("/v1/popular").mock(side_effect=popular_handler)
    router.get("/v1/categories").mock(return_value=json_response(CategoriesResponse(categories=[])))
    router.get("/v1/banners").mock(
        return_value=json_response(BannersBatch(entities=[], missing=[]))
    )
    store = CountingStore()
    task = asyncio.create_task(store.run_refresh(*backends, ["helsinki"], interval_s=60))
    await store.done.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert store.loaded
    assert store.popular("city", "helsinki", "venue") is not None


async def test_refresh_bounds_its_concurrency(
    snapshot_path: Path,
    router: respx.MockRouter,
    backends: tuple[PopularityClient, CatalogClient],
) -> None:
    in_flight = 0
    peak = 0

    async def popular(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        for _ in range(3):  # let other refresh calls start if the bound allows them to
            await asyncio.sleep(0)
        in_flight -= 1
        return popular_handler(request)

    router.get("/v1/popular").mock(side_effect=popular)
    router.get("/v1/categories").mock(
        return_value=json_response(CategoriesResponse(categories=[PIZZA, SUSHI]))
    )
    router.get("/v1/banners").mock(
        return_value=json_response(BannersBatch(entities=[BANNER], missing=[]))
    )
    store = ReferenceStore.from_snapshot(snapshot_path)
    assert await store.refresh(*backends, ["helsinki", "tallinn"], concurrency=3)
    assert 1 < peak <= 3
