"""Ranking HTTP app: ``POST /v1/rank`` and ``POST /v1/rank:batch`` (DESIGN §5)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Response

from backends.faults import install_faults
from backends.ranking.logic import Ranker, UnknownVariantError, get_ranker
from backends.server import json_response
from backends.world import BadLocalTimeError
from clients.contracts import RankBatchRequest, RankBatchResponse, RankRequest, RankResponse


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
    async def rank(req: RankRequest) -> Response:
        try:
            return json_response(rk().rank_payload(req))
        except UnknownVariantError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        except BadLocalTimeError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc

    @app.post("/v1/rank:batch", response_model=RankBatchResponse)
    async def rank_batch(batch: RankBatchRequest) -> Response:
        """Each request answered as ``POST /v1/rank`` would, in request order.

        One request the single endpoint refuses fails the whole batch with its status (400
        for an unknown variant, 422 for a bad local time), the detail naming ``requests[i]``.
        """
        ranker_ = rk()
        responses: list[dict[str, Any]] = []
        for n, req in enumerate(batch.requests):
            try:
                responses.append(ranker_.rank_payload(req))
            except UnknownVariantError as exc:
                raise HTTPException(status_code=400, detail=f"requests[{n}]: {exc}") from exc
            except BadLocalTimeError as exc:
                raise HTTPException(status_code=422, detail=f"requests[{n}]: {exc}") from exc
        return json_response({"responses": responses})

    @app.get("/v1/models")
    async def models() -> dict[str, object]:
        """Variants, their model versions and training time (for operators and tests)."""
        b = rk().bundle
        return {"variants": {n: {"kind": m.kind, "hash": b.hashes[n]} for n, m in b.models.items()}}

    return app
