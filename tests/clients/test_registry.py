"""open_backends: every client opened with its own transport, all closed on exit."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from clients import (
    BACKEND_NAMES,
    CacheConfig,
    CacheResult,
    Deadline,
    open_backends,
)
from clients.contracts import PopularResponse
from tests.clients.conftest import backend_config, json_response
from tests.clients.test_reference import write_snapshot


def popular(request: httpx.Request) -> httpx.Response:
    return json_response(PopularResponse(ids=["x"], generated_at="2026-01-05T00:00:00Z"))


async def test_opens_and_closes_every_client(tmp_path: Path) -> None:
    snapshot = write_snapshot(tmp_path / "snapshot.json")
    configs = {name: backend_config(base_url=f"http://{name}.test") for name in BACKEND_NAMES}
    transports = {"popularity": httpx.MockTransport(popular)}
    async with open_backends(
        configs, CacheConfig(), snapshot, transports=transports, refresh_interval_s=None
    ) as backends:
        assert backends.reference.loaded
        assert backends.reference.popular("city", "helsinki", "venue") == ["v1", "v2"]
        fetched = await backends.popularity.popular(
            "city", "helsinki", "venue", 5, Deadline.after(1)
        )
        assert fetched.value.ids == ["x"]
        assert fetched.cache is CacheResult.BYPASS
        clients = backends.clients()
        assert sorted(clients) == sorted(BACKEND_NAMES)
        assert {c.name for c in clients.values()} == set(BACKEND_NAMES)
    assert all(client.closed for client in clients.values())
    with pytest.raises(RuntimeError):
        await backends.popularity.popular("city", "helsinki", "venue", 5, Deadline.after(1))


async def test_missing_backend_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ranking"):
        async with open_backends(
            {"catalog": backend_config()}, CacheConfig(), tmp_path / "none.json"
        ):
            pass  # pragma: no cover


async def test_background_refresh_is_stopped_on_exit(tmp_path: Path) -> None:
    snapshot = write_snapshot(tmp_path / "snapshot.json")
    configs = {name: backend_config(base_url=f"http://{name}.test") for name in BACKEND_NAMES}

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("down", request=request)

    transports = {name: httpx.MockTransport(down) for name in BACKEND_NAMES}
    async with open_backends(configs, CacheConfig(), snapshot, transports=transports) as backends:
        pass
    # the refresh ran (or was cancelled) without touching the snapshot data
    assert backends.reference.popular("city", "helsinki", "venue") == ["v1", "v2"]
