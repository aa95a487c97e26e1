"""Fixtures for gateway tests over the fake backends (in-process, no sockets)."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from clients.config import BackendConfig
from clients.contracts.ports import BACKEND_NAMES
from gateway.app import create_app
from gateway.auth import mint_token
from gateway.settings import DATA_DIR, Settings
from tests.fakes import FakeBackends

PLANS = DATA_DIR / "plans.yaml"
SECRET = "unit-test-secret-0123456789-abcdefghijkl"

DISCOVERY = """
query Discovery($loc: LocationInput!) {
  discovery(location: $loc) {
    requestId degraded
    sections {
      __typename id title source trackingId
      ... on VenueCarousel { venues { id name isOpen distanceMeters reason brand { id name } } }
      ... on ItemCarousel { items { id venueId price { amount currency } } }
      ... on CategoryTiles { categories { slug name } }
      ... on BannerCarousel { banners { id title targetUrl } }
      ... on BrandCarousel { brands { id name } }
    }
  }
}
"""

HELSINKI = {"lat": 60.1699, "lon": 24.9384}


def plans_with_budgets(tmp_path: Path, budget_ms: int) -> Path:
    """A copy of the shipped plans with every surface's budget set to ``budget_ms``."""
    data = yaml.safe_load(PLANS.read_text(encoding="utf-8"))
    for surface in data["surfaces"].values():
        surface["budget_ms"] = budget_ms
    path = tmp_path / f"plans-{budget_ms}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def gateway_settings(tmp_path: Path, fakes: FakeBackends, **overrides: Any) -> Settings:
    backend_overrides = overrides.pop("backends", {})
    if "budget_ms" in overrides:
        overrides["plans_path"] = plans_with_budgets(tmp_path, overrides.pop("budget_ms"))
    backends = {
        name: BackendConfig(
            **{
                "base_url": f"http://{name}.test",
                "timeout_s": 0.2,
                "cache_ttl_s": {
                    "catalog": 300,
                    "retrieval": 60,
                    "ranking": 60,
                    "popularity": 60,
                }.get(name),
                **backend_overrides.get(name, {}),
            }
        )
        for name in BACKEND_NAMES
    }
    values: dict[str, Any] = {
        "environment": "test",
        "debug": True,
        "jwt_secret": SECRET,
        "snapshot_path": fakes.world.write_snapshot(tmp_path / "snapshot.json"),
        "reference_refresh_s": None,
        # tests change backend faults between requests of one viewer and expect to see it;
        # the page cache has its own tests (tests/gateway/test_page_cache.py)
        "page_cache_ttl_s": 0.0,
        **backends,
        **overrides,
    }
    return Settings(**values)


class Gateway:
    """A running gateway app plus helpers to query it."""

    def __init__(self, app: Any, client: httpx.AsyncClient, fakes: FakeBackends) -> None:
        self.app = app
        self.client = client
        self.fakes = fakes

    async def query(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        user: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        all_headers = dict(headers or {})
        if user:
            all_headers["Authorization"] = f"Bearer {mint_token(user, SECRET)}"
        return await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=all_headers
        )

    async def discovery(self, *, user: str | None = None, **kw: Any) -> dict[str, Any]:
        response = await self.query(DISCOVERY, {"loc": HELSINKI}, user=user, **kw)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        return dict(body["data"]["discovery"])


@contextlib.asynccontextmanager
async def running_gateway(settings: Settings, fakes: FakeBackends) -> AsyncIterator[Gateway]:
    app = create_app(settings, transports=fakes.transports)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            yield Gateway(app, client, fakes)


@pytest.fixture(autouse=True)
def _no_gc_pauses_from_earlier_tests() -> None:
    """Freeze what earlier tests left on the heap, as the gateway does after start-up.

    Timing assertions must measure this test's request, not a full collection of every
    object the session has accumulated so far.
    """
    gc.collect()
    gc.freeze()


@pytest.fixture
def fakes() -> FakeBackends:
    return FakeBackends()


@pytest.fixture
async def gateway(tmp_path: Path, fakes: FakeBackends) -> AsyncIterator[Gateway]:
    async with running_gateway(gateway_settings(tmp_path, fakes), fakes) as gw:
        yield gw


GatewayFactory = Callable[..., contextlib.AbstractAsyncContextManager[Gateway]]


@pytest.fixture
def make_gateway(tmp_path: Path, fakes: FakeBackends) -> GatewayFactory:
    def factory(**overrides: Any) -> contextlib.AbstractAsyncContextManager[Gateway]:
        return running_gateway(gateway_settings(tmp_path, fakes, **overrides), fakes)

    return factory
