"""Limits: expensive or oversized requests are refused with a coded error, cheaply."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.gateway.conftest import DISCOVERY, HELSINKI, Gateway, GatewayFactory

LOC = "location: {lat: 60.17, lon: 24.94}"


async def test_too_many_root_fields_are_refused_before_any_backend_call(
    gateway: Gateway,
) -> None:
    aliases = " ".join(f"p{n}: discovery({LOC}) {{ degraded }}" for n in range(5))
    response = await gateway.query("{ " + aliases + " }")
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert sum(gateway.fakes.calls.values()) == 0


async def test_depth_aliases_and_tokens_are_bounded(gateway: Gateway) -> None:
    deep = (
        "{ discovery("
        + LOC
        + ") { sections { ... on VenueCarousel { venues { brand { id "
        + "} } } } } }"
    )
    assert "errors" not in (await gateway.query(deep)).json()
    many_aliases = (
        "{ discovery(" + LOC + ") { " + " ".join(f"a{n}: degraded" for n in range(25)) + " } }"
    )
    errors = (await gateway.query(many_aliases)).json()["errors"]
    assert errors[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "alias" in errors[0]["message"].lower()
    huge = "{ discovery(" + LOC + ") { " + " ".join(["degraded"] * 5000) + " } }"
    errors = (await gateway.query(huge)).json()["errors"]
    assert "token" in errors[0]["message"].lower()


async def test_introspection_is_off_unless_enabled(make_gateway: GatewayFactory) -> None:
    query = "{ __schema { queryType { name } } }"
    async with make_gateway() as gw:
        errors = (await gw.query(query)).json()["errors"]
        assert errors[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    async with make_gateway(introspection=True) as gw:
        body = (await gw.query(query)).json()
        assert body["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_oversized_body_gets_413_with_a_graphql_shaped_error(gateway: Gateway) -> None:
    padding = "#" + "x" * (70 * 1024) + "\n"
    response = await gateway.client.post(
        "/graphql", json={"query": padding + "{ discovery(" + LOC + ") { degraded } }"}
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_shipped_style_operation_passes_the_limits(gateway: Gateway) -> None:
    response = await gateway.query(DISCOVERY, {"loc": HELSINKI}, user="u0001")
    assert "errors" not in response.json()


async def test_cors_allows_only_configured_origins(
    make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    async with make_gateway(cors_origins=["https://app.example"]) as gw:
        preflight = {
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        }
        ok = await gw.client.options("/graphql", headers=preflight)
        assert ok.headers["access-control-allow-origin"] == "https://app.example"
        evil = await gw.client.options(
            "/graphql", headers={**preflight, "Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in evil.headers


async def test_batching_is_off_and_refusals_are_graphql_shaped(gateway: Gateway) -> None:
    batch = [{"query": "{ __typename }"}, {"query": "{ __typename }"}]
    response = await gateway.client.post("/graphql", json=batch)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    garbled = await gateway.client.post(
        "/graphql", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert garbled.status_code == 400
    assert garbled.json()["errors"][0]["message"] == "Unable to parse request body as JSON"


async def test_cost_estimate_refuses_list_heavy_queries(gateway: Gateway) -> None:
    venue_fields = (
        "id name slug rating deliveryMinutes priceLevel tags imageUrl isOpen distanceMeters "
        "reason brand { id name logoUrl }"
    )
    heavy = (
        "{ discovery("
        + LOC
        + ") { sections { ... on VenueCarousel { "
        + " ".join(f"v{n}: venues {{ {venue_fields} }}" for n in range(10))
        + " } } } }"
    )
    response = await gateway.query(heavy)
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert "cost" in error["message"]
    assert sum(gateway.fakes.calls.values()) == 0


async def test_oversized_streamed_body_without_length_gets_413(gateway: Gateway) -> None:
    async def chunks() -> Any:
        yield b'{"query": "#'
        for _ in range(80):
            yield b"x" * 1024
        yield b'\\n{ __typename }"}'

    response = await gateway.client.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    small = await gateway.client.post(
        "/graphql",
        content=_once(b'{"query": "{ __typename }"}'),
        headers={"content-type": "application/json"},
    )
    assert small.json()["data"] == {"__typename": "Query"}


async def _once(body: bytes) -> Any:
    yield body
