"""Graceful overload (decision 0024): past ``degrade_at`` requests in flight the page is built
cheap (no retrieval, ranking or bandit call, flagged degraded, kept a few seconds in the
page cache); past ``refuse_at`` the answer is a coded 503 with ``Retry-After``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from gateway.app import create_app
from gateway.auth import mint_token
from gateway.shedding import LoadShedder
from resolvers.page_cache import PageCache
from resolvers.request import PageReport
from tests.fakes import FakeBackends
from tests.gateway.conftest import DISCOVERY, HELSINKI, SECRET, gateway_settings

# -- the middleware -----------------------------------------------------------------------


class _Held:
    """An inner app that records each request's ``shed`` flag and waits to be released."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.arrived = 0
        self.shed: list[bool] = []
        self.all_in = asyncio.Event()
        self.expected = 3

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.shed.append(bool(scope.get("state", {}).get("shed")))
        self.arrived += 1
        if self.arrived >= self.expected:
            self.all_in.set()
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


async def _call(app: Any, path: str = "/graphql") -> tuple[int, dict[str, str]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "path": path, "method": "POST", "headers": []}
    await app(scope, receive, send)
    start = sent[0]
    headers = {k.decode(): v.decode() for k, v in start.get("headers", [])}
    return start["status"], headers


async def test_requests_past_the_thresholds_are_shed_then_refused() -> None:
    inner = _Held()
    shedder = LoadShedder(inner, degrade_at=2, refuse_at=3, retry_after_s=2)
    held = [asyncio.create_task(_call(shedder)) for _ in range(3)]
    await inner.all_in.wait()
    assert inner.shed == [False, False, True]
    assert shedder.in_flight == 3
    status, headers = await _call(shedder)  # the fourth: refused at once
    assert status == 503
    assert headers["retry-after"] == "2"
    inner.release.set()
    assert [(await t)[0] for t in held] == [200, 200, 200]
    assert (shedder.in_flight, shedder.shed, shedder.refused) == (0, 1, 1)
    assert (await _call(shedder, "/healthz"))[0] == 200  # other paths are not counted
    assert shedder.in_flight == 0


async def test_zero_thresholds_switch_shedding_off() -> None:
    inner = _Held()
    inner.release.set()
    shedder = LoadShedder(inner)
    assert [(await _call(shedder))[0] for _ in range(3)] == [200, 200, 200]
    assert inner.shed == [False, False, False]


# -- the page cache -----------------------------------------------------------------------


def test_a_shed_page_is_kept_for_the_shed_ttl_and_replayed_degraded() -> None:
    now = [0.0]
    cache = PageCache(20.0, 10, clock=lambda: now[0], shed_ttl_s=3.0)
    cache.put("shed", [], PageReport(), degraded=True, shed=True)
    cache.put("failed", [], PageReport(), degraded=True)
    assert cache.get("failed") is None  # a failure is never kept
    page = cache.get("shed")
    assert page is not None
    assert page.degraded
    trace = PageReport()
    page.replay(trace, "discovery")
    assert trace.degraded
    now[0] = 3.01
    assert cache.get("shed") is None


# -- the page build, through the app ------------------------------------------------------


class _ForceShed:
    """Marks every request as past ``degrade_at``, as the shedder would under load."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        scope.setdefault("state", {})["shed"] = True
        await self.app(scope, receive, send)


async def test_a_shed_page_calls_no_retrieval_ranking_or_bandit(tmp_path: Path) -> None:
    fakes = FakeBackends()
    settings = gateway_settings(tmp_path, fakes, page_cache_ttl_s=20.0, shed_page_ttl_s=3.0)
    app = create_app(settings, transports=fakes.transports)
    headers = {"Authorization": f"Bearer {mint_token('u0001', SECRET)}"}
    body = {"query": DISCOVERY, "variables": {"loc": HELSINKI}}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=_ForceShed(app)), base_url="http://gateway.test"
        ) as client,
    ):
        fakes.calls.clear()
        first = (await client.post("/graphql", json=body, headers=headers)).json()
        assert "errors" not in first
        page = first["data"]["discovery"]
        assert page["degraded"] is True
        assert page["sections"], "a complete page: popularity, stale and default sections"
        assert not {"retrieval", "ranking", "bandit"} & set(fakes.calls)
        catalog_calls = fakes.calls["catalog"]
        again = (await client.post("/graphql", json=body, headers=headers)).json()
        assert again["data"]["discovery"]["degraded"] is True
        assert fakes.calls["catalog"] == catalog_calls  # served from the page cache
        sources = {s["source"] for s in again["data"]["discovery"]["sections"]}
        assert sources <= {"POPULAR", "STALE", "DEFAULT", "CANDIDATE_ORDER"}
