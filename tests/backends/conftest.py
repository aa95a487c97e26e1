"""Fixtures: in-process ASGI clients over the shared cached dataset (no sockets)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from backends.server import create_app

CTX = {"location": {"lat": 60.1699, "lon": 24.9384}, "local_time": "2025-03-05T12:30:00+02:00"}
HELSINKI = {"lat": 60.1699, "lon": 24.9384}


async def _client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c


@pytest.fixture
async def catalog() -> AsyncIterator[httpx.AsyncClient]:
    async for c in _client(create_app("catalog")):
        yield c


@pytest.fixture
async def retrieval() -> AsyncIterator[httpx.AsyncClient]:
    async for c in _client(create_app("retrieval")):
        yield c


@pytest.fixture
async def ranking() -> AsyncIterator[httpx.AsyncClient]:
    async for c in _client(create_app("ranking")):
        yield c


@pytest.fixture
async def bandit() -> AsyncIterator[httpx.AsyncClient]:
    async for c in _client(create_app("bandit")):
        yield c


@pytest.fixture
async def popularity() -> AsyncIterator[httpx.AsyncClient]:
    async for c in _client(create_app("popularity")):
        yield c
