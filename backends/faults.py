"""Fault injection and health checks, written once and installed on all five apps.

The gateway's resilience (timeouts, retries, breaker, fallbacks) is only believable if it
is exercised against backends that really misbehave, over real HTTP. ``PUT /_faults`` with
a :class:`FaultConfig` makes every *other* route slow, failing, malformed or hanging until
``DELETE /_faults``. ``/_faults`` and ``/healthz`` are never faulted, so a test can always
reset a backend and the stack helper can always tell it is up.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque

from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from clients.contracts import FaultConfig

_EXEMPT_PREFIXES = ("/_faults", "/healthz", "/_debug")


class FaultState:
    """The current faults of one app, its RNG, and the event hung requests wait on.

    Hung requests are released when the faults are replaced or deleted (and cancelled on
    server shutdown), so a test that injected ``hang`` does not leak stuck requests.
    """

    def __init__(self, seed: int = 0) -> None:
        self.config: FaultConfig | None = None
        self.rng = random.Random(seed)
        # (path, traceparent) of recent requests: lets tests see the trace a caller sent
        self.seen: deque[dict[str, str | None]] = deque(maxlen=256)
        self.release = asyncio.Event()

    def set(self, config: FaultConfig | None) -> None:
        self.config = config
        self.release.set()
        self.release = asyncio.Event()


def install_faults(app: FastAPI, service: str, *, seed: int = 0) -> FaultState:
    """Add ``/healthz``, ``/_faults`` and the fault middleware to ``app``."""
    state = FaultState(seed)
    app.state.faults = state
    router = APIRouter(tags=["operations"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @router.get("/_faults", response_model=FaultConfig)
    async def get_faults() -> FaultConfig:
        return state.config or FaultConfig()

    @router.put("/_faults", response_model=FaultConfig)
    async def put_faults(config: FaultConfig) -> FaultConfig:
        state.set(config)
        return config

    @router.delete("/_faults", status_code=204)
    async def delete_faults() -> Response:
        state.set(None)
        return Response(status_code=204)

    @router.get("/_debug/requests")
    async def recent_requests() -> list[dict[str, str | None]]:
        """The most recent requests' paths and W3C ``traceparent`` headers, oldest first."""
        return list(state.seen)

    app.include_router(router)

    app.add_middleware(_FaultMiddleware, state=state, service=service)

    return state


class _FaultMiddleware:
    """The injected faults, as a plain ASGI middleware.

    ``@app.middleware("http")`` (Starlette's ``BaseHTTPMiddleware``) runs every request
    through a task group and wrapped body streams, a cost per call paid on the core the
    benchmark's backends share (decision 0015, "Figures"). Faults are the same: a delay first,
    then a hang, an error status or a malformed body, each as configured.
    """

    def __init__(self, app: ASGIApp, state: FaultState, service: str) -> None:
        self.app = app
        self.state = state
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        state = self.state
        cfg = state.config
        traceparent = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == b"traceparent"), None
        )
        state.seen.append({"path": scope["path"], "traceparent": traceparent})
        if cfg is None:
            await self.app(scope, receive, send)
            return
        delay = cfg.latency_ms + (state.rng.uniform(0, cfg.jitter_ms) if cfg.jitter_ms else 0)
        if delay > 0:
            await asyncio.sleep(delay / 1000)
        if cfg.hang:
            # Cancellable wait: released by PUT/DELETE /_faults, cancelled on shutdown.
            await state.release.wait()
            await self.app(scope, receive, send)
            return
        response: Response | None = None
        if cfg.error_rate and state.rng.random() < cfg.error_rate:
            response = JSONResponse(
                {"error": "injected fault", "service": self.service, "status": cfg.status},
                status_code=cfg.status,
            )
        elif cfg.malformed_rate and state.rng.random() < cfg.malformed_rate:
            if state.rng.random() < 0.5:
                response = Response(
                    "<html>upstream exploded{", status_code=200, media_type="application/json"
                )
            else:
                response = JSONResponse(
                    {"unexpected": True, "data": [1, "two", None]}, status_code=200
                )
        if response is not None:
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
