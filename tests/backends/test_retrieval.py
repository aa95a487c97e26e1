"""Retrieval contract and business rules: delivery area, category, co-purchase."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from backends.dataset import ITEMS_PER_VENUE, get_dataset, haversine_m, parse_id
from backends.retrieval.logic import get_retrieval
from backends.server import json_response
from backends.world import get_world
from clients.contracts import CandidatesRequest, CandidatesResponse, RetrievalStrategy
from tests.backends.conftest import HELSINKI


def _req(strategy: str, **kw: object) -> dict[str, object]:
    return {
        "surface": "discovery",
        "strategy": strategy,
        "location": HELSINKI,
        "local_time": "2025-03-05T12:30:00+02:00",
        **kw,
    }


def _known_user() -> str:
    w = get_world()
    ds = w.ds
    helsinki_users = np.flatnonzero((ds.u_city == 0) & (w.user_n >= 8))
    return f"u{int(helsinki_users[0]) + 1:04d}"


@pytest.mark.parametrize("strategy", [s.value for s in RetrievalStrategy])
async def test_every_strategy_answers_the_contract(
    retrieval: httpx.AsyncClient, strategy: str
) -> None:
    r = await retrieval.post(
        "/v1/candidates",
        json=_req(
            strategy,
            user_id=_known_user(),
            category="pizza",
            venue_id="v00001",
            cart_item_ids=["i000001"],
            limit=20,
        ),
    )
    assert r.status_code == 200, r.text
    body = CandidatesResponse.model_validate(r.json())
    assert len(body.candidates) <= 20
    assert len({c.id for c in body.candidates}) == len(body.candidates)
    assert body.source_version


async def test_delivery_area_filter(retrieval: httpx.AsyncClient) -> None:
    ds = get_dataset()
    body = CandidatesResponse.model_validate(
        (await retrieval.post("/v1/candidates", json=_req("nearby", limit=500))).json()
    )
    assert body.candidates
    for c in body.candidates:
        v = parse_id(c.id, "v", ds.n_venues)
        assert v is not None
        d = haversine_m(HELSINKI["lat"], HELSINKI["lon"], ds.v_lat[v : v + 1], ds.v_lon[v : v + 1])[
            0
        ]
        assert d <= ds.v_radius_m[v]
    far = await retrieval.post(
        "/v1/candidates", json={**_req("for_you"), "location": {"lat": 0, "lon": 0}}
    )
    assert far.json()["candidates"] == []


async def test_closed_venues_score_below_open(retrieval: httpx.AsyncClient) -> None:
    ds = get_dataset()
    body = (
        await retrieval.post(
            "/v1/candidates", json=_req("nearby", limit=500, local_time="2025-03-09T04:00:00+02:00")
        )
    ).json()
    slot = 6 * 96 + 16  # Sunday 04:00
    for c in body["candidates"]:
        v = parse_id(c["id"], "v", ds.n_venues)
        assert (c["score"] > 0.5) == bool(ds.v_open[v, slot]) or c["score"] == 0.5


async def test_category_filter_and_unknown_category(retrieval: httpx.AsyncClient) -> None:
    ds = get_dataset()
    body = (
        await retrieval.post("/v1/candidates", json=_req("category", category="pizza", limit=100))
    ).json()
    assert body["candidates"]
    pizza = 0
    for c in body["candidates"]:
        assert ds.v_cats[parse_id(c["id"], "v", ds.n_venues), pizza]
    unknown = await retrieval.post("/v1/candidates", json=_req("category", category="unicorns"))
    assert unknown.status_code == 200
    assert unknown.json()["candidates"] == []


async def test_co_purchase_stays_in_venue_and_skips_cart(retrieval: httpx.AsyncClient) -> None:
    ds = get_dataset()
    w = get_world()
    v = int(np.argmax(w.venue_pop))
    cart = [f"i{v * ITEMS_PER_VENUE + k + 1:06d}" for k in (0, 1, 13)]
    req = _req("co_purchase", venue_id=f"v{v + 1:05d}", cart_item_ids=cart, limit=50)
    body = (await retrieval.post("/v1/candidates", json=req)).json()
    ids = [c["id"] for c in body["candidates"]]
    assert ids
    assert not set(ids) & set(cart)
    assert all(ds.it_venue[parse_id(i, "i", ds.n_items)] == v for i in ids)
    assert body["candidates"][0]["reason"].startswith("Popular with people who bought")


async def test_order_again_empty_for_anonymous_and_new_users(retrieval: httpx.AsyncClient) -> None:
    for user in (None, "u4999"):
        r = await retrieval.post("/v1/candidates", json=_req("order_again", user_id=user))
        assert r.json()["candidates"] == []
    known = await retrieval.post("/v1/candidates", json=_req("order_again", user_id=_known_user()))
    assert known.json()["candidates"]


async def test_unknown_venue_is_empty_and_bad_body_is_422(retrieval: httpx.AsyncClient) -> None:
    r = await retrieval.post("/v1/candidates", json=_req("venue_items", venue_id="v99999"))
    assert r.status_code == 200
    assert r.json()["candidates"] == []
    assert (await retrieval.post("/v1/candidates", json={"strategy": "for_you"})).status_code == 422
    bad_time = await retrieval.post("/v1/candidates", json=_req("nearby", local_time="lunchtime"))
    assert bad_time.status_code == 422


async def test_holdout_export(retrieval: httpx.AsyncClient) -> None:
    rows = (await retrieval.get("/_demo/holdout", params={"limit": 5})).json()
    assert len(rows) == 5
    assert set(rows[0]) == {"user_id", "city", "location", "local_time", "venue_id"}


@pytest.mark.parametrize("strategy", [s.value for s in RetrievalStrategy])
async def test_payload_is_the_answer_on_the_wire_byte_for_byte(
    retrieval: httpx.AsyncClient, strategy: str
) -> None:
    """``candidates_payload`` written by ``json_response`` is the body the app sends."""
    for user in (_known_user(), "u4950", None):
        body = _req(
            strategy,
            user_id=user,
            category="pizza",
            venue_id="v00001",
            cart_item_ids=["i000001", "i000014"],
            limit=60,
        )
        r = await retrieval.post("/v1/candidates", json=body)
        assert r.status_code == 200
        payload = get_retrieval().candidates_payload(CandidatesRequest.model_validate(body))
        assert json_response(payload).body == r.content
