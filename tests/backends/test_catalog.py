"""Catalog contract: batchGet found/missing semantics and per-city listings."""

from __future__ import annotations

import httpx
import pytest

from backends.catalog.logic import EntityKindName, get_catalog
from clients.contracts import BannersBatch, BrandsBatch, CategoriesResponse, ItemsBatch, VenuesBatch


@pytest.mark.parametrize(
    ("path", "model", "ids"),
    [
        ("/v1/venues:batchGet", VenuesBatch, ["v00001", "v00002"]),
        ("/v1/items:batchGet", ItemsBatch, ["i000001", "i000026"]),
        ("/v1/brands:batchGet", BrandsBatch, ["b001", "b002"]),
        ("/v1/banners:batchGet", BannersBatch, ["bn-hel-1", "bn-sto-2"]),
    ],
)
async def test_batch_get_every_id_found_or_missing(
    catalog: httpx.AsyncClient, path: str, model: type, ids: list[str]
) -> None:
    asked = [*ids, "nope-1", ids[0]]
    r = await catalog.post(path, json={"ids": asked})
    assert r.status_code == 200
    body = model.model_validate(r.json())
    found = [e.id for e in body.entities]
    assert found == ids
    assert body.missing == ["nope-1"]


async def test_venue_entity_details(catalog: httpx.AsyncClient) -> None:
    body = VenuesBatch.model_validate(
        (await catalog.post("/v1/venues:batchGet", json={"ids": ["v00001"]})).json()
    )
    v = body.entities[0]
    assert v.city in {"helsinki", "stockholm", "tallinn"}
    assert v.opening_hours
    assert 1 <= v.price_level <= 4
    assert v.image_url
    assert v.image_url.startswith("https://img.example/")
    if v.brand_id:
        assert v.brand is not None
        assert v.brand.id == v.brand_id


async def test_items_have_city_currency(catalog: httpx.AsyncClient) -> None:
    r = await catalog.post("/v1/items:batchGet", json={"ids": ["i000001"]})
    item = ItemsBatch.model_validate(r.json()).entities[0]
    assert item.venue_id == "v00001"
    assert item.price.currency == "EUR"
    assert item.price.amount > 0


async def test_categories_and_banners_listing(catalog: httpx.AsyncClient) -> None:
    cats = CategoriesResponse.model_validate(
        (await catalog.get("/v1/categories?city=helsinki")).json()
    )
    slugs = {c.slug for c in cats.categories}
    assert {"pizza", "sushi", "burgers"} <= slugs
    unknown = CategoriesResponse.model_validate(
        (await catalog.get("/v1/categories?city=atlantis")).json()
    )
    assert unknown.categories == []
    banners = BannersBatch.model_validate((await catalog.get("/v1/banners?city=helsinki")).json())
    assert banners.missing == []
    assert banners.entities
    assert all(b.city == "helsinki" and b.id.startswith("bn-hel-") for b in banners.entities)


async def test_invalid_body_is_422(catalog: httpx.AsyncClient) -> None:
    assert (await catalog.post("/v1/venues:batchGet", json={"idz": []})).status_code == 422
    assert (await catalog.post("/v1/venues:batchGet", json={"ids": ["v"] * 501})).status_code == 422


@pytest.mark.parametrize(
    ("kind", "ids"),
    [
        ("venue", ["v00001", "v00950", "v00001", "nope", "v00002"]),
        ("item", ["i000001", "i023750", "i999999", "i000001"]),
        ("brand", ["b001", "b040", "b041", "b001"]),
        ("banner", ["bn-hel-1", "bn-sto-6", "bn-xxx-1"]),
    ],
)
async def test_encoded_batches_are_the_answers_on_the_wire(
    catalog: httpx.AsyncClient, kind: EntityKindName, ids: list[str]
) -> None:
    """``Catalog.batch_json`` (entities encoded once) is the body the app sends, to the byte."""
    r = await catalog.post(f"/v1/{kind}s:batchGet", json={"ids": ids})
    assert r.status_code == 200
    assert get_catalog().batch_json(kind, ids) == r.content
    assert get_catalog().batch_json(kind, ids) == r.content  # and again, from the cache
