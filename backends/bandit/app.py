"""Bandit HTTP app: ``POST /v1/decide``, ``POST /v1/decide:batch``, ``POST /v1/rewards`` and
``GET /v1/stats``."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI, HTTPException, Query, Response

from backends.bandit.logic import (
    Bandit,
    DuplicateDecisionError,
    UnknownArmError,
    UnknownDecisionError,
)
from backends.faults import install_faults
from backends.server import json_response
from clients.contracts import (
    DecideBatchRequest,
    DecideBatchResponse,
    DecideRequest,
    DecideResponse,
    RewardRequest,
)


def create_app(bandit: Bandit | None = None) -> FastAPI:
    """Build the app with its own state (seed: ``PGW_BANDIT_SEED``, default 0; policy:
    ``PGW_BANDIT_POLICY``, ``hierarchical`` (default), ``flat`` or ``uniform``), journalled
    to ``PGW_BANDIT_JOURNAL`` when set so a restart keeps decisions and counted rewards."""
    journal = os.environ.get("PGW_BANDIT_JOURNAL")
    state = bandit or Bandit(
        seed=int(os.environ.get("PGW_BANDIT_SEED", "0")),
        journal=Path(journal) if journal else None,
        policy=os.environ.get("PGW_BANDIT_POLICY", "hierarchical"),
    )
    app = FastAPI(title="bandit (reference)")
    app.state.bandit = state
    install_faults(app, "bandit")

    @app.post("/v1/decide", response_model=DecideResponse)
    async def decide(req: DecideRequest) -> Response:
        try:
            return json_response(state.decide_payload(req))
        except DuplicateDecisionError as exc:
            raise HTTPException(status_code=409, detail=str(exc)) from exc

    @app.post("/v1/decide:batch", response_model=DecideBatchResponse)
    async def decide_batch(batch: DecideBatchRequest) -> Response:
        """Each request decided as ``POST /v1/decide`` would, in request order: its own
        decision id and propensities, remembered and journalled like a single decision."""
        try:
            return json_response(
                {"responses": [state.decide_payload(req) for req in batch.requests]}
            )
        except DuplicateDecisionError as exc:
            raise HTTPException(status_code=409, detail=str(exc)) from exc

    @app.post("/v1/rewards", status_code=202)
    async def rewards(req: RewardRequest) -> Response:
        try:
            counted = state.reward(req)
        except UnknownDecisionError as exc:
            raise HTTPException(
                status_code=404, detail=f"unknown decision_id {req.decision_id!r}"
            ) from exc
        except UnknownArmError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        return Response(
            content=b'{"accepted":true,"counted":' + (b"true" if counted else b"false") + b"}",
            status_code=202,
            media_type="application/json",
        )

    @app.get("/v1/stats")
    async def stats(
        decision_point: str = Query(),
        city: str | None = Query(default=None),
        user_id: str | None = Query(default=None),
        device_id: str | None = Query(default=None),
        platform: str | None = Query(default=None),
    ) -> dict[str, object]:
        return state.stats(decision_point, city, user_id, device_id=device_id, platform=platform)

    return app
