"""``/preview`` over the fake backends: four surfaces drawn as an app would, each section's
source, the page's degraded flag and backend calls; only in development and demo."""

from __future__ import annotations

import re

from tests.fakes import FakeBackends
from tests.gateway.conftest import GatewayFactory


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
