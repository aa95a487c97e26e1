"""Fault injection shared by all backends: latency, errors, malformed bodies, hangs."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from backends.server import create_app


async def test_latency_and_reset(popularity: httpx.AsyncClient) -> None:
    url = "/v1/popular?scope=city&key=helsinki&kind=venue"
    # 600 ms of injected latency against a 200 ms bound for the unfaulted answers: 3x apart
    assert (await popularity.put("/_faults", json={"latency_ms": 600})).status_code == 200
    assert (await popularity.get("/_faults")).json()["latency_ms"] == 600
    t = time.perf_counter()
    assert (await popularity.get(url)).status_code == 200
    assert time.perf_counter() - t >= 0.59
    t = time.perf_counter()
    assert (await popularity.get("/healthz")).status_code == 200  # never faulted
    assert time.perf_counter() - t < 0.2
    assert (await popularity.delete("/_faults")).status_code == 204
    t = time.perf_counter()
    await popularity.get(url)
    assert time.perf_counter() - t < 0.2


@pytest.mark.parametrize("status", [500, 503])
async def test_error_rate(catalog: httpx.AsyncClient, status: int) -> None:
    await catalog.put("/_faults", json={"error_rate": 1.0, "status": status})
    r = await catalog.post("/v1/venues:batchGet", json={"ids": ["v00001"]})
    assert r.status_code == status
    assert r.json()["error"] == "injected fault"


async def test_malformed_bodies_are_not_the_contract(catalog: httpx.AsyncClient) -> None:
    await catalog.put("/_faults", json={"malformed_rate": 1.0})
    kinds = set()
    for _ in range(20):
        r = await catalog.post("/v1/venues:batchGet", json={"ids": ["v00001"]})
        assert r.status_code == 200
        try:
            body = json.loads(r.content)
        except ValueError:
            kinds.add("not-json")
            continue
        assert "entities" not in body
        kinds.add("wrong-shape")
    assert kinds == {"not-json", "wrong-shape"}


async def test_hang_times_out_client_and_is_released() -> None:
    app = create_app("bandit")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        await c.put("/_faults", json={"hang": True})
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(c.get("/v1/stats?decision_point=x"), timeout=0.2)
        pending = asyncio.create_task(c.get("/v1/stats?decision_point=x"))
        await asyncio.sleep(0.05)
        assert not pending.done()
        await c.delete("/_faults")
        assert (await asyncio.wait_for(pending, timeout=2)).status_code == 200
