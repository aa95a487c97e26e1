"""``/preview`` over the fake backends: four surfaces drawn as an app would, each section's
source, the page's degraded flag and backend calls; only in development and demo."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import httpx

from tests.fakes import FakeBackends
from tests.gateway.conftest import GatewayFactory
from tests.live import free_port
from tests.threaded_gateway import serving


async def test_the_preview_draws_the_four_surfaces(make_gateway: GatewayFactory) -> None:
    async with make_gateway(environment="development") as gw:
        response = await gw.client.get("/preview", params={"user": "u0042"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    surfaces = re.findall(r'data-surface="([^"]+)"', page)
    assert surfaces == ["Discovery", "Category", "Venue page", "Cart"]
    assert 'data-degraded="true"' not in page
    assert 'class="card venue' in page
    assert 'class="card item' in page
    assert 'class="card tile' in page
    assert 'data-source="PERSONALISED"' in page
    assert "<td>ranking</td>" in page  # the backend calls, with their times
    assert re.search(r"<td>\d+\.\d ms</td>", page)
    assert "/preview/faults" not in page  # fault switches are the demo's only
    assert "<script" not in page


async def test_ranking_down_shows_degraded_pages_and_their_fallbacks(
    make_gateway: GatewayFactory, fakes: FakeBackends
) -> None:
    fakes.fail("ranking", "500")
    async with make_gateway(environment="development") as gw:
        page = (await gw.client.get("/preview", params={"user": "u0042"})).text
    assert 'data-surface="Discovery"' in page
    assert 'data-degraded="true"' in page
    sources = set(re.findall(r'data-source="([^"]+)"', page))
    assert sources - {"PERSONALISED"}, sources  # some section fell back
    assert "failures:" in page


async def test_the_picker_and_bad_input(make_gateway: GatewayFactory) -> None:
    async with make_gateway(environment="development") as gw:
        page = (await gw.client.get("/preview", params={"user": "", "lat": "x"})).text
        assert '<option value="" selected>anonymous</option>' in page
        far = (await gw.client.get("/preview", params={"lat": "10", "lon": "10"})).text
    assert 'class="error"' in far  # no market there: each surface says why, no 500


async def test_no_preview_outside_development_and_demo(make_gateway: GatewayFactory) -> None:
    async with make_gateway(environment="test") as gw:
        assert (await gw.client.get("/preview")).status_code == 404


def test_the_demo_switches_a_reference_backends_faults(tmp_path: Path) -> None:
    """The switch drives the reference backends' own fault router (``backends/faults.py``)
    over real HTTP: ``down`` PUTs a 100 % error rate, ``healthy`` DELETEs it."""
    import uvicorn
    from fastapi import FastAPI

    from backends.faults import install_faults

    ranking = FastAPI()
    state = install_faults(ranking, "ranking")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(ranking, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive()
        time.sleep(0.05)
    try:
        overrides = {"ranking": {"base_url": f"http://127.0.0.1:{port}"}}
        with serving(tmp_path, environment="demo", backends=overrides, real=("ranking",)) as base:
            pressed = re.compile(r'data-backend="ranking">.*?aria-pressed="true">(\w+)<', re.S)
            page = httpx.get(f"{base}/preview?user=u0001", timeout=30).text
            assert pressed.search(page)[1] == "healthy"  # type: ignore[index]
            switched = httpx.post(
                f"{base}/preview/faults",
                data={"backend": "ranking", "fault": "down", "back": "user=u0001"},
                timeout=30,
            )
            assert switched.status_code == 303
            assert switched.headers["location"] == "/preview?user=u0001"
            assert state.config is not None
            assert state.config.error_rate == 1.0
            page = httpx.get(f"{base}/preview?user=u0001", timeout=30).text
            assert pressed.search(page)[1] == "down"  # type: ignore[index]
            healthy = httpx.post(
                f"{base}/preview/faults",
                data={"backend": "ranking", "fault": "healthy"},
                timeout=30,
            )
            assert healthy.status_code == 303
            assert state.config is None
            refused = httpx.post(
                f"{base}/preview/faults", data={"backend": "redis", "fault": "down"}, timeout=30
            )
            assert refused.status_code == 400
    finally:
        server.should_exit = True
        thread.join(10)
