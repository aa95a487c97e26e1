"""Catalog HTTP app: batch lookups and per-city listings (DESIGN §5)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Query, Response

from backends.catalog.logic import Catalog, get_catalog, split_found
from backends.faults import install_faults
from backends.server import json_bytes_response
from clients.contracts import (
    BannersBatch,
    BatchGetRequest,
    BrandsBatch,
    CategoriesResponse,
    ItemsBatch,
    VenuesBatch,
)


def create_app(catalog: Catalog | None = None) -> FastAPI:
    """Build the app; ``catalog`` defaults to the process-wide one (loaded at start-up)."""

    def cat() -> Catalog:
        return catalog or get_catalog()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        cat()  # warm before accepting traffic: /healthz up means ready
        yield

    app = FastAPI(title="catalog (reference)", lifespan=lifespan)
    install_faults(app, "catalog")

    # Colons are literal in Starlette paths, so ``/v1/venues:batchGet`` routes as written.
    @app.post("/v1/venues:batchGet", response_model=VenuesBatch)
    async def venues(req: BatchGetRequest) -> Response:
        return json_bytes_response(cat().batch_json("venue", req.ids))

    @app.post("/v1/items:batchGet", response_model=ItemsBatch)
    async def items(req: BatchGetRequest) -> Response:
        return json_bytes_response(cat().batch_json("item", req.ids))

    @app.post("/v1/brands:batchGet", response_model=BrandsBatch)
    async def brands(req: BatchGetRequest) -> Response:
        return json_bytes_response(cat().batch_json("brand", req.ids))

    @app.post("/v1/banners:batchGet", response_model=BannersBatch)
    async def banners_batch(req: BatchGetRequest) -> BannersBatch:
        c = cat()
        entities, missing = split_found(req.ids, [c.banner(i) for i in req.ids])
        return BannersBatch(entities=entities, missing=missing)

    @app.get("/v1/categories", response_model=CategoriesResponse)
    async def categories(city: str | None = Query(default=None)) -> CategoriesResponse:
        return CategoriesResponse(categories=cat().categories(city))

    @app.get("/v1/banners", response_model=BannersBatch)
    async def banners(city: str = Query()) -> BannersBatch:
        return BannersBatch(entities=cat().active_banners(city), missing=[])

    return app
