"""End to end over real HTTP: the gateway process against the five reference backends."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.live import LiveStack

pytestmark = pytest.mark.e2e

HELSINKI = {"lat": 60.1699, "lon": 24.9384}
DISCOVERY = """
query($loc: LocationInput!) { discovery(location: $loc) { requestId degraded sections {
  __typename id title source
  ... on VenueCarousel { venues { id name isOpen distanceMeters reason } }
  ... on CategoryTiles { categories { slug } }
  ... on BannerCarousel { banners { id } }
  ... on BrandCarousel { brands { id } }
} } }
"""
VENUE = """
query($id: ID!, $loc: LocationInput!) { venuePage(venueId: $id, location: $loc) {
  degraded venue { id name }
  sections { id source ... on ItemCarousel { items { id venueId price { amount currency } } } }
} }
"""
CART = """
query($cart: CartInput!, $loc: LocationInput!) { cart(cart: $cart, location: $loc) {
  degraded sections { id source ... on ItemCarousel { items { id venueId } } }
} }
"""
CATEGORY = """
query($loc: LocationInput!) { category(slug: "pizza", location: $loc, first: 2) {
  degraded source venues { totalCount edges { node { id isOpen } } pageInfo { hasNextPage } }
} }
"""

VIEWERS = ("with history", "new user", "anonymous")


@pytest.fixture(scope="module")
def customer(live: LiveStack) -> tuple[str, dict[str, float]]:
    """A Helsinki customer with order history, at their delivery location (from the demo
    data's held-out orders, so the test does not hard-code the dataset)."""
    import httpx

    orders = httpx.get(f"{live.backend_urls['retrieval']}/_demo/holdout?limit=200").json()
    order = next(o for o in orders if o["city"] == "helsinki")
    return order["user_id"], order["location"]


def _data(response: Any, field: str) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return dict(body["data"][field])


def _for_you(page: dict[str, Any]) -> list[str]:
    section = next(s for s in page["sections"] if s["id"] == "for_you")
    return [v["id"] for v in section["venues"]]


@pytest.mark.parametrize("viewer", VIEWERS)
def test_every_surface_for_every_kind_of_viewer(
    live: LiveStack, customer: tuple[str, dict[str, float]], viewer: str
) -> None:
    user, loc = {
        "with history": customer,
        "new user": ("u4950", HELSINKI),
        "anonymous": (None, HELSINKI),
    }[viewer]
    discovery = _data(live.query(DISCOVERY, {"loc": loc}, user=user), "discovery")
    sources = {s["id"]: s["source"] for s in discovery["sections"]}
    assert sources["for_you"] == "PERSONALISED"
    assert sources["popular_near_you"] == "POPULAR"
    assert sources["banners"] == "PERSONALISED"
    assert ("order_again" in sources) is (viewer == "with history")
    assert discovery["degraded"] is False
    for section in discovery["sections"]:
        content = [v for k, v in section.items() if isinstance(v, list)]
        assert content, f"{section['id']} has no list"
        assert content[0], f"{section['id']} is empty"

    venue_id = _for_you(discovery)[0]
    venue_page = _data(live.query(VENUE, {"id": venue_id, "loc": loc}, user=user), "venuePage")
    assert venue_page["venue"]["id"] == venue_id
    assert {s["id"]: s["source"] for s in venue_page["sections"]} == {
        "recommended_items": "PERSONALISED",
        "popular_items": "POPULAR",
    }
    items = venue_page["sections"][1]["items"]
    assert items
    assert all(i["venueId"] == venue_id for i in items)
    assert items[0]["price"]["currency"] == "EUR"

    cart = {"venueId": venue_id, "lines": [{"itemId": items[0]["id"], "quantity": 1}]}
    cart_page = _data(live.query(CART, {"cart": cart, "loc": loc}, user=user), "cart")
    [add] = cart_page["sections"]
    assert add["source"] == "PERSONALISED"
    suggested = [i["id"] for i in add["items"]]
    assert suggested
    assert items[0]["id"] not in suggested
    assert all(i["venueId"] == venue_id for i in add["items"])

    category = _data(live.query(CATEGORY, {"loc": loc}, user=user), "category")
    assert category["source"] == "PERSONALISED"
    assert category["venues"]["totalCount"] >= 3
    assert category["venues"]["pageInfo"]["hasNextPage"] is True


def test_same_user_same_inputs_same_page(live: LiveStack) -> None:
    first = _data(live.query(DISCOVERY, {"loc": HELSINKI}, user="u0042"), "discovery")
    second = _data(live.query(DISCOVERY, {"loc": HELSINKI}, user="u0042"), "discovery")
    assert first.pop("requestId") != second.pop("requestId")
    assert first == second


def test_different_tastes_get_different_for_you(live: LiveStack) -> None:
    lists = {
        user: _for_you(_data(live.query(DISCOVERY, {"loc": HELSINKI}, user=user), "discovery"))
        for user in ("u0007", "u0042", "u0123", "u0456")
    }
    top = {user: tuple(ids[:5]) for user, ids in lists.items()}
    assert len(set(top.values())) >= 3, top
    first, second = lists["u0007"], lists["u0042"]
    overlap = len(set(first) & set(second)) / max(len(first), 1)
    assert overlap < 0.8 or first[:5] != second[:5]


def test_fault_injection_through_the_api_changes_sources(live: LiveStack) -> None:
    try:
        live.set_fault("ranking", error_rate=1.0)
        page = _data(live.query(DISCOVERY, {"loc": HELSINKI}, user="u0301"), "discovery")
        assert {s["id"]: s["source"] for s in page["sections"]}["for_you"] == "CANDIDATE_ORDER"
        assert page["degraded"] is True

        live.set_fault("retrieval", hang=True)
        page = _data(live.query(DISCOVERY, {"loc": HELSINKI}, user="u0302"), "discovery")
        assert {s["id"]: s["source"] for s in page["sections"]}["for_you"] == "POPULAR"
    finally:
        live.clear_faults()
    # Once the faults are gone, personalisation returns within the breaker's open time.
    deadline = time.monotonic() + 15
    n = 0
    while True:
        n += 1
        page = _data(live.query(DISCOVERY, {"loc": HELSINKI}, user=f"u05{n:02d}"), "discovery")
        if {s["id"]: s["source"] for s in page["sections"]}["for_you"] == "PERSONALISED":
            break
        assert time.monotonic() < deadline, "personalisation did not come back"
        time.sleep(0.25)
