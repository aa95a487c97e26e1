"""Retrieval HTTP app: ``POST /v1/candidates``, ``POST /v1/candidates:batch`` and the demo-only
hold-out export."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Response

from backends.faults import install_faults
from backends.retrieval.logic import Retrieval, get_retrieval
from backends.server import json_response
from backends.world import BadLocalTimeError
from clients.contracts import (
    CandidatesBatchRequest,
    CandidatesBatchResponse,
    CandidatesRequest,
    CandidatesResponse,
    Location,
    RetrievalStrategy,
)
from clients.contracts.common import Surface


def warm_up(retrieval: Retrieval) -> None:
    """Answer one request per strategy before accepting traffic (``/healthz`` up means
    ready): the first answer pays for what the logic builds lazily, which would otherwise
    land on the first viewer's page and blow its budget (decision 0015, "Figures")."""
    sample = retrieval.holdout(1)
    if not sample:
        return
    seen = sample[0]
    for strategy in RetrievalStrategy:
        request = CandidatesRequest(
            surface=Surface.DISCOVERY,
            strategy=strategy,
            user_id=seen["user_id"],
            location=Location.model_validate(seen["location"]),
            local_time=seen["local_time"],
            venue_id=seen["venue_id"],
            limit=60,
        )
        with contextlib.suppress(Exception):  # a strategy this sample does not fit
            retrieval.candidates(request)


def create_app(retrieval: Retrieval | None = None) -> FastAPI:
    """Build the app over ``retrieval`` (default: the process-wide one)."""

    def r() -> Retrieval:
        return retrieval or get_retrieval()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        warm_up(r())
        yield

    app = FastAPI(title="retrieval (reference)", lifespan=lifespan)
    install_faults(app, "retrieval")

    @app.post("/v1/candidates", response_model=CandidatesResponse)
    async def candidates(req: CandidatesRequest) -> Response:
        try:
            return json_response(r().candidates_payload(req))
        except BadLocalTimeError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc

    @app.post("/v1/candidates:batch", response_model=CandidatesBatchResponse)
    async def candidates_batch(batch: CandidatesBatchRequest) -> Response:
        """Each request answered as ``POST /v1/candidates`` would, in request order.

        One invalid request fails the whole batch with the single endpoint's status (422).
        """
        retrieval_ = r()
        responses: list[dict[str, Any]] = []
        for n, req in enumerate(batch.requests):
            try:
                responses.append(retrieval_.candidates_payload(req))
            except BadLocalTimeError as exc:
                raise HTTPException(status_code=422, detail=f"requests[{n}]: {exc}") from exc
        return json_response({"responses": responses})

    @app.get("/_demo/holdout")
    async def holdout(limit: int = Query(default=500, ge=1, le=10_000)) -> list[dict[str, Any]]:
        """Held-out orders ``{user_id, city, location, local_time, venue_id}`` (demo only)."""
        return r().holdout(limit)

    return app
