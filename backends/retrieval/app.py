"""Retrieval HTTP app: ``POST /v1/candidates``, ``POST /v1/candidates:batch`` and the demo-only
hold-out export."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Query

from backends.faults import install_faults
from backends.retrieval.logic import Retrieval, get_retrieval
from backends.world import BadLocalTimeError
from clients.contracts import (
    CandidatesBatchRequest,
    CandidatesBatchResponse,
    CandidatesRequest,
    CandidatesResponse,
)


def create_app(retrieval: Retrieval | None = None) -> FastAPI:
    """Build the app over ``retrieval`` (default: the process-wide one)."""

    def r() -> Retrieval:
        return retrieval or get_retrieval()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        r()
        yield

    app = FastAPI(title="retrieval (reference)", lifespan=lifespan)
    install_faults(app, "retrieval")

    @app.post("/v1/candidates", response_model=CandidatesResponse)
    async def candidates(req: CandidatesRequest) -> CandidatesResponse:
        try:
            return r().candidates(req)
        except BadLocalTimeError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc

    @app.post("/v1/candidates:batch", response_model=CandidatesBatchResponse)
    async def candidates_batch(batch: CandidatesBatchRequest) -> CandidatesBatchResponse:
        """Each request answered as ``POST /v1/candidates`` would, in request order.

        One invalid request fails the whole batch with the single endpoint's status (422).
        """
        retrieval_ = r()
        responses: list[CandidatesResponse] = []
        for n, req in enumerate(batch.requests):
            try:
                responses.append(retrieval_.candidates(req))
            except BadLocalTimeError as exc:
                raise HTTPException(status_code=422, detail=f"requests[{n}]: {exc}") from exc
        return CandidatesBatchResponse(responses=responses)

    @app.get("/_demo/holdout")
    async def holdout(limit: int = Query(default=500, ge=1, le=10_000)) -> list[dict[str, Any]]:
        """Held-out orders ``{user_id, city, location, local_time, venue_id}`` (demo only)."""
        return r().holdout(limit)

    return app
