"""Ranking HTTP app: ``POST /v1/rank`` (DESIGN §5)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException

from backends.faults import install_faults
from backends.ranking.logic import Ranker, UnknownVariantError, get_ranker
from backends.world import BadLocalTimeError
from clients.contracts import RankRequest, RankResponse


def create_app(ranker: Ranker | None = None) -> FastAPI:
    """Build the app; the model bundle is loaded (or trained once) at start-up."""

    def rk() -> Ranker:
        return ranker or get_ranker()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        rk()
        yield

    app = FastAPI(title="ranking (reference)", lifespan=lifespan)
    install_faults(app, "ranking")

    @app.post("/v1/rank", response_model=RankResponse)
    async def rank(req: RankRequest) -> RankResponse:
        try:
            return rk().rank(req)
        except UnknownVariantError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        except BadLocalTimeError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc

    @app.get("/v1/models")
    async def models() -> dict[str, object]:
        """Variants, their model versions and training time (for operators and tests)."""
        b = rk().bundle
        return {"variants": {n: {"kind": m.kind, "hash": b.hashes[n]} for n, m in b.models.items()}}

    return app
