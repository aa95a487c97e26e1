"""Shared fixtures of the client tests: fake clocks, configs, contract-built stubs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import respx
from pydantic import BaseModel

from clients import (
    BackendConfig,
    BreakerConfig,
    BreakerState,
    CacheConfig,
    CacheResult,
    ResponseCache,
    RetryConfig,
)
from clients.contracts import (
    Candidate,
    CandidatesRequest,
    CandidatesResponse,
    Location,
    RankRequest,
    RequestContext,
    Surface,
)
from clients.contracts.retrieval import RetrievalStrategy

BASE_URL = "http://backend.test"


class FakeClock:
    """A clock tests move by hand: ``clock()`` reads it, ``clock.advance(s)`` moves it."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class RecordingObserver:
    """Collects what a client reports."""

    calls: list[tuple[str, str, str, CacheResult, int]] = field(default_factory=list)
    retries: list[tuple[str, str]] = field(default_factory=list)
    states: list[tuple[str, BreakerState]] = field(default_factory=list)

    def on_call(
        self,
        backend: str,
        endpoint: str,
        outcome: str,
        duration_s: float,
        cache: CacheResult,
        attempts: int,
    ) -> None:
        self.calls.append((backend, endpoint, outcome, cache, attempts))

    def on_retry(self, backend: str, endpoint: str) -> None:
        self.retries.append((backend, endpoint))

    def on_breaker_state(self, backend: str, state: BreakerState) -> None:
        self.states.append((backend, state))


def backend_config(**overrides: Any) -> BackendConfig:
    """A config for tests: fast back-off, a breaker that stays closed unless asked."""
    values: dict[str, Any] = {
        "base_url": BASE_URL,
        "timeout_s": 0.25,
        "retry": RetryConfig(backoff_initial_s=0.001, backoff_max_s=0.002, jitter_s=0.001),
        "breaker": BreakerConfig(consecutive_failures=100, min_calls=100, window=100),
    }
    values.update(overrides)
    return BackendConfig(**values)


def json_response(model: BaseModel, status: int = 200) -> httpx.Response:
    """A response whose body is a contract model (so stubs cannot drift from the contract)."""
    return httpx.Response(status, json=model.model_dump(mode="json"))


def candidates_request(**overrides: Any) -> CandidatesRequest:
    values: dict[str, Any] = {
        "surface": Surface.DISCOVERY,
        "strategy": RetrievalStrategy.FOR_YOU,
        "user_id": "u0001",
        "location": Location(lat=60.17, lon=24.94),
        "limit": 10,
    }
    values.update(overrides)
    return CandidatesRequest(**values)


def candidates_response(*ids: str) -> CandidatesResponse:
    return CandidatesResponse(
        candidates=[Candidate(id=i, score=1.0 / (n + 1)) for n, i in enumerate(ids)],
        source_version="test-1",
    )


def rank_request(**overrides: Any) -> RankRequest:
    values: dict[str, Any] = {
        "surface": Surface.DISCOVERY,
        "user_id": "u0001",
        "context": RequestContext(
            location=Location(lat=60.17, lon=24.94),
            local_time="2026-01-05T12:34:00+02:00",
            city="helsinki",
        ),
        "candidate_ids": ["v1", "v2", "v3"],
    }
    values.update(overrides)
    return RankRequest(**values)


@pytest.fixture
def epoch() -> FakeClock:
    """The cache's wall clock."""
    return FakeClock(start=1_700_000_000.0)


@pytest.fixture
def monotonic() -> FakeClock:
    """The breaker's monotonic clock."""
    return FakeClock()


@pytest.fixture
async def cache(epoch: FakeClock) -> AsyncIterator[ResponseCache]:
    response_cache = ResponseCache(CacheConfig(namespace="test"), clock=epoch)
    yield response_cache
    await response_cache.aclose()


@pytest.fixture
def router() -> respx.MockRouter:
    """A respx router to hand to a client as its transport (no global patching)."""
    return respx.MockRouter(base_url=BASE_URL, assert_all_called=False)


def transport(router: respx.MockRouter) -> httpx.MockTransport:
    return httpx.MockTransport(router.async_handler)


class Gate:
    """Holds requests until released, counting them: proves concurrency without sleeping."""

    def __init__(self, response: Callable[[httpx.Request], httpx.Response]) -> None:
        self.response = response
        self.arrived = 0
        self.first = asyncio.Event()
        self.open = asyncio.Event()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.arrived += 1
        self.first.set()
        await self.open.wait()
        return self.response(request)

    async def release_when_waiting(self) -> None:
        """Once the first request is held, let every other task reach its await, then open."""
        await self.first.wait()
        for _ in range(10):
            await asyncio.sleep(0)
        self.open.set()


async def hang(request: httpx.Request) -> httpx.Response:
    """A backend that never answers."""
    await asyncio.Event().wait()
    raise AssertionError("unreachable")
