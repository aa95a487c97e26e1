"""Popularity HTTP app: ``GET /v1/popular`` (DESIGN §5)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Query

from backends.faults import install_faults
from backends.popularity.logic import Popularity, get_popularity
from clients.contracts import EntityKind, PopularityScope, PopularResponse


def create_app(popularity: Popularity | None = None) -> FastAPI:
    """Build the app; lists are computed at start-up (lifespan) or on first request."""

    def pop() -> Popularity:
        return popularity or get_popularity()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pop()
        yield

    app = FastAPI(title="popularity (reference)", lifespan=lifespan)
    install_faults(app, "popularity")

    @app.get("/v1/popular", response_model=PopularResponse)
    async def popular(
        scope: PopularityScope = Query(),
        key: str = Query(),
        kind: EntityKind = Query(default=EntityKind.VENUE),
        limit: int = Query(default=50, ge=1, le=1000),
    ) -> PopularResponse:
        p = pop()
        return PopularResponse(ids=p.popular(scope, key, kind, limit), generated_at=p.generated_at)

    return app
