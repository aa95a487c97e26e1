"""Run the reference backends with uvicorn: one per process, or all five in one process."""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

import orjson
import uvicorn
from fastapi import FastAPI, Response

from backends.config import BACKEND_NAMES, REFERENCE_PORTS

JSON = "application/json"


def json_response(payload: Any, status_code: int = 200) -> Response:
    """``payload`` (dicts, lists, str, int, float, bool, None) as a JSON response, by orjson.

    For endpoints whose logic already produces a contract's shape (``*_payload`` methods of
    the logic classes, fields in contract order): the body is byte for byte what FastAPI
    writes for the equivalent response model (compact, UTF-8, the same float spelling —
    see ``tests/backends/test_dataset.py``), without validating a model per element on the
    way out. A returned ``Response`` also skips FastAPI's response-model pass, so the route
    keeps ``response_model=`` for its OpenAPI document only.
    """
    return Response(orjson.dumps(payload), status_code=status_code, media_type=JSON)


def json_bytes_response(body: bytes, status_code: int = 200) -> Response:
    """An already encoded JSON body (e.g. ``Catalog.batch_json``) as a response."""
    return Response(body, status_code=status_code, media_type=JSON)


def create_app(name: str) -> FastAPI:
    """The app of backend ``name``: catalog, retrieval, ranking, bandit or popularity."""
    if name not in BACKEND_NAMES:
        raise ValueError(f"unknown backend {name!r}; expected one of {', '.join(BACKEND_NAMES)}")
    module = importlib.import_module(f"backends.{name}.app")
    app: FastAPI = module.create_app()
    return app


def _config(name: str, host: str, port: int) -> uvicorn.Config:
    # Short graceful-shutdown timeout: requests hung by fault injection are cancelled
    # instead of blocking shutdown forever.
    return uvicorn.Config(
        create_app(name),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
        lifespan="on",
    )


def serve(name: str, host: str = "127.0.0.1", port: int | None = None) -> None:
    """Serve one backend until interrupted."""
    uvicorn.Server(_config(name, host, port or REFERENCE_PORTS[name])).run()


def serve_all(host: str = "127.0.0.1", ports: dict[str, int] | None = None) -> None:
    """Serve all five backends in one process (shares the dataset in memory)."""
    ports = {**REFERENCE_PORTS, **(ports or {})}
    servers = [uvicorn.Server(_config(n, host, ports[n])) for n in BACKEND_NAMES]

    async def main() -> None:
        await asyncio.gather(*(s.serve() for s in servers))

    asyncio.run(main())
