"""Business rules of the surfaces, each checked on its own."""

from __future__ import annotations

from typing import Any

from tests.gateway.conftest import HELSINKI, Gateway

VENUES_OF = "... on VenueCarousel { venues { id isOpen } }"


async def _discovery(gw: Gateway, user: str | None = "u0001") -> dict[str, Any]:
    response = await gw.query(
        "query($loc: LocationInput!) { discovery(location: $loc) { degraded sections "
        "{ __typename id source " + VENUES_OF + " } } }",
        {"loc": HELSINKI},
        user=user,
    )
    return dict(response.json()["data"]["discovery"])


def _venue_sections(page: dict[str, Any]) -> dict[str, list[str]]:
    return {
        s["id"]: [v["id"] for v in s["venues"]]
        for s in page["sections"]
        if s["__typename"] == "VenueCarousel"
    }


async def test_no_venue_repeats_across_carousels(gateway: Gateway) -> None:
    shown = _venue_sections(await _discovery(gateway))
    assert len(shown) >= 3
    all_ids = [v for ids in shown.values() for v in ids]
    assert len(all_ids) == len(set(all_ids))


async def test_only_venues_delivering_to_the_location_are_shown(gateway: Gateway) -> None:
    # v38 sits ~55 km north: retrieval and popularity offer it, the gateway must not show it
    page = await _discovery(gateway)
    assert all("v38" not in ids for ids in _venue_sections(page).values())
    response = await gateway.query(
        'query($loc: LocationInput!) { category(slug: "pizza", location: $loc, first: 50) '
        "{ venues { edges { node { id } } } } }",
        {"loc": HELSINKI},
    )
    ids = [e["node"]["id"] for e in response.json()["data"]["category"]["venues"]["edges"]]
    assert "v38" not in ids
    assert ids


async def test_closed_venues_go_last(gateway: Gateway) -> None:
    response = await gateway.query(
        'query($loc: LocationInput!) { category(slug: "sushi", location: $loc, first: 50) '
        "{ venues { edges { node { id isOpen } } } } }",
        {"loc": HELSINKI},
    )
    nodes = [e["node"] for e in response.json()["data"]["category"]["venues"]["edges"]]
    assert nodes[-1] == {"id": "v39", "isOpen": False}
    assert all(n["isOpen"] for n in nodes[:-1])


async def test_section_order_follows_the_bandit_and_falls_back_to_configured(
    gateway: Gateway,
) -> None:
    personalised = [s["id"] for s in (await _discovery(gateway))["sections"]]
    # the fake bandit reverses the arms it is offered
    assert personalised[0] == "brands"
    assert personalised[-1] == "banners"
    gateway.fakes.fail("bandit", "500")
    configured = [s["id"] for s in (await _discovery(gateway, user="u0002"))["sections"]]
    assert configured[0] == "banners"
    assert configured[-1] == "brands"


async def test_order_again_only_for_users_with_history(gateway: Gateway) -> None:
    assert "order_again" in _venue_sections(await _discovery(gateway, user="u0001"))
    assert "order_again" not in _venue_sections(await _discovery(gateway, user="u4999"))
    assert "order_again" not in _venue_sections(await _discovery(gateway, user=None))
    # anonymous viewers are never asked about: no user id leaves the gateway for them
    anonymous = [r for r in gateway.fakes.candidate_requests() if r["user_id"] is None]
    assert anonymous
    assert all(r["strategy"] != "order_again" for r in anonymous)


async def test_cart_recommendations_never_repeat_the_cart_and_stay_in_its_venue(
    gateway: Gateway,
) -> None:
    response = await gateway.query(
        'query($loc: LocationInput!) { cart(cart: {venueId: "v03", lines: ['
        '{itemId: "i031", quantity: 2}, {itemId: "i032", quantity: 1}]}, location: $loc) '
        "{ sections { id source ... on ItemCarousel { items { id venueId } } } } }",
        {"loc": HELSINKI},
        user="u0001",
    )
    [section] = response.json()["data"]["cart"]["sections"]
    ids = [i["id"] for i in section["items"]]
    assert section["source"] == "PERSONALISED"
    assert ids
    assert not {"i031", "i032"} & set(ids)
    assert all(i["venueId"] == "v03" for i in section["items"])
    assert "i0101" not in ids  # offered by retrieval from another venue, dropped


async def test_category_pages_walk_the_whole_list_without_overlap(gateway: Gateway) -> None:
    query = (
        'query($loc: LocationInput!, $after: String) { category(slug: "pizza", '
        "location: $loc, first: 4, after: $after) { category { slug name } venues { totalCount "
        "edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage endCursor } } } }"
    )
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        response = await gateway.query(query, {"loc": HELSINKI, "after": after})
        page = response.json()["data"]["category"]
        assert page["category"] == {"slug": "pizza", "name": "Pizza"}
        connection = page["venues"]
        seen += [e["node"]["id"] for e in connection["edges"]]
        assert connection["pageInfo"]["hasPreviousPage"] is (after is not None)
        pages += 1
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert pages >= 3
    assert len(seen) == len(set(seen)) == connection["totalCount"]


async def test_location_outside_every_market_gets_an_empty_complete_page(
    gateway: Gateway,
) -> None:
    response = await gateway.query(
        "{ discovery(location: {lat: 0, lon: 0}) { degraded sections { id source } } }"
    )
    body = response.json()
    assert "errors" not in body
    assert body["data"]["discovery"]["sections"] is not None


async def test_order_again_is_never_thinned_out_by_earlier_carousels(gateway: Gateway) -> None:
    # With the configured order, "For you" (v01..v20, which include u0001's order history
    # v05..v07) comes before "Order again".
    gateway.fakes.fail("bandit", "500")
    shown = _venue_sections(await _discovery(gateway))
    order = list(shown)
    assert order.index("for_you") < order.index("order_again")
    assert {"v05", "v06", "v07"} <= set(shown["for_you"])
    assert sorted(shown["order_again"]) == ["v05", "v06", "v07"]  # ranked: reverse order
