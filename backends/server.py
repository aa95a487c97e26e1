"""Run the reference backends with uvicorn: one per process, or all five in one process."""

from __future__ import annotations

import asyncio
import importlib

import uvicorn
from fastapi import FastAPI

from backends.config import BACKEND_NAMES, DEFAULT_PORTS


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
    uvicorn.Server(_config(name, host, port or DEFAULT_PORTS[name])).run()


def serve_all(host: str = "127.0.0.1", ports: dict[str, int] | None = None) -> None:
    """Serve all five backends in one process (shares the dataset in memory)."""
    ports = {**DEFAULT_PORTS, **(ports or {})}
    servers = [uvicorn.Server(_config(n, host, ports[n])) for n in BACKEND_NAMES]

    async def main() -> None:
        await asyncio.gather(*(s.serve() for s in servers))

    asyncio.run(main())
