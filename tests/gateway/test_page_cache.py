"""The page cache: a refresh within the TTL reuses the built sections (no fan-out), while
request ids, tracking ids and decision-log lines stay per request; degraded pages are never
kept; anything the build reads is part of the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from resolvers.events.decision_log import read_log
from tests.gateway.conftest import DISCOVERY, HELSINKI, Gateway, GatewayFactory


async def _page(
    gw: Gateway, user: str | None = "u0001", loc: dict[str, float] = HELSINKI
) -> tuple[dict[str, Any], str]:
    response = await gw.query(DISCOVERY, {"loc": loc}, user=user)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    pages = body["extensions"]["debug"]["pages"]
    return dict(body["data"]["discovery"]), pages[0]["pageCache"]


def _content(page: dict[str, Any]) -> list[Any]:
    return [{k: v for k, v in s.items() if k != "trackingId"} for s in page["sections"]]


async def test_a_refresh_reuses_the_page_but_not_its_request_or_tracking_ids(
    make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    log = tmp_path / "decisions.jsonl"
    async with make_gateway(page_cache_ttl_s=30, decision_log_path=log) as gw:
        first, state = await _page(gw)
        assert state == "miss"
        calls = sum(gw.fakes.calls.values())
        second, state = await _page(gw)
        assert state == "hit"
        assert sum(gw.fakes.calls.values()) == calls  # no fan-out at all
        assert _content(second) == _content(first)
        assert second["requestId"] != first["requestId"]
        first_ids = {s["trackingId"] for s in first["sections"]}
        assert not first_ids & {s["trackingId"] for s in second["sections"]}
        await gw.app.state.runtime.feedback.decisions.flush()
    logged = {line["request_id"] for line in read_log(log)}
    # every impression is logged, under its own request
    assert {first["requestId"], second["requestId"]} <= logged


async def test_a_degraded_page_is_not_kept(make_gateway: GatewayFactory) -> None:
    async with make_gateway(page_cache_ttl_s=30) as gw:
        gw.fakes.fail("ranking", "500")
        degraded, state = await _page(gw)
        assert degraded["degraded"]
        assert state == "miss"
        gw.fakes.fail("ranking", None)
        healthy, state = await _page(gw)
        assert state == "miss"  # built again: the recovered backend shows at once
        assert not healthy["degraded"]
        _, state = await _page(gw)
        assert state == "hit"


@pytest.mark.parametrize(
    ("user", "loc"),
    [
        ("u0002", HELSINKI),  # another viewer
        (None, HELSINKI),  # signed out
        ("u0001", {"lat": HELSINKI["lat"] + 0.001, "lon": HELSINKI["lon"]}),  # ~110 m away
    ],
)
async def test_another_viewer_or_place_is_another_page(
    make_gateway: GatewayFactory, user: str | None, loc: dict[str, float]
) -> None:
    async with make_gateway(page_cache_ttl_s=30) as gw:
        await _page(gw)
        _, state = await _page(gw, user=user, loc=loc)
        assert state == "miss"


async def test_off_by_default_in_tests_and_zero_turns_it_off(gateway: Gateway) -> None:
    await _page(gateway)
    _, state = await _page(gateway)
    assert state == "off"
