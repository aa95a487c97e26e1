"""The Federation 2 subgraph (decision 0020): its SDL, its ``_entities``, its route."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLObjectType
from graphql import build_schema as parse_sdl

from schema import SDL_PATH, export_sdl
from schema.subgraph import SUBGRAPH_SDL_PATH, export_subgraph_sdl
from tests.fakes import FakeBackends
from tests.gateway.conftest import SECRET, gateway_settings, running_gateway

ENTITIES = """
query Entities($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on Venue { id name slug isOpen distanceMeters brand { id name } }
    ... on Item { id name venueId price { amount currency } }
    ... on Brand { id name }
  }
}
"""


def test_committed_subgraph_sdl_matches_the_live_subgraph() -> None:
    assert SUBGRAPH_SDL_PATH.read_text(encoding="utf-8") == export_subgraph_sdl(), (
        "schema/subgraph.graphql is stale: run `make schema` and commit the result"
    )


def test_the_client_schema_stays_plain() -> None:
    sdl = export_sdl()
    for federation_only in ("@key", "@link", "_entities", "_service", "_Any", "_Entity"):
        assert federation_only not in sdl


def _federation_sdl(sdl: str) -> str:
    """The subgraph SDL without the schema's @link block, parsable by graphql-core."""
    body = sdl.split("}\n\n", 1)[1] if sdl.startswith("schema @link") else sdl
    return "directive @key(fields: String!) repeatable on OBJECT\n" + body


def test_the_subgraph_is_the_client_schema_plus_federation() -> None:
    client = parse_sdl(SDL_PATH.read_text(encoding="utf-8"))
    subgraph = parse_sdl(_federation_sdl(SUBGRAPH_SDL_PATH.read_text(encoding="utf-8")))
    for name, graphql_type in client.type_map.items():
        if name.startswith("__"):
            continue
        twin = subgraph.type_map[name]
        assert type(twin) is type(graphql_type), name
        if isinstance(graphql_type, GraphQLObjectType):
            assert isinstance(twin, GraphQLObjectType)
            for field_name, field in graphql_type.fields.items():
                assert str(twin.fields[field_name].type) == str(field.type), (name, field_name)
                assert twin.fields[field_name].description == field.description
    assert set(subgraph.type_map) - set(client.type_map) == {"_Any", "_Entity", "_Service"}
    entity = subgraph.type_map["_Entity"]
    assert sorted(t.name for t in entity.types) == ["Brand", "Item", "Venue"]  # type: ignore[attr-defined]
    sdl = SUBGRAPH_SDL_PATH.read_text(encoding="utf-8")
    for keyed in ("Venue", "Item", "Brand"):
        assert f'type {keyed} @key(fields: "id")' in sdl


async def _entities(gw: Any, representations: list[dict[str, Any]], **kw: Any) -> Any:
    return await gw.client.post(
        "/subgraph",
        json={"query": ENTITIES, "variables": {"representations": representations}},
        **kw,
    )


async def test_entities_are_resolved_in_one_catalog_batch_per_kind(
    tmp_path: Path, fakes: FakeBackends
) -> None:
    settings = gateway_settings(tmp_path, fakes, federation=True)
    async with running_gateway(settings, fakes) as gw:
        fakes.calls.clear()
        fakes.requests["catalog"].clear()
        response = await _entities(
            gw,
            [
                {"__typename": "Venue", "id": "v04"},
                {"__typename": "Item", "id": "i011"},
                {"__typename": "Venue", "id": "v01"},
                {"__typename": "Brand", "id": "b2"},
                {"__typename": "Venue", "id": "nope"},
                {"__typename": "Venue", "id": "v04"},
            ],
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        entities = body["data"]["_entities"]
        assert [e and e["id"] for e in entities] == ["v04", "i011", "v01", "b2", None, "v04"]
        venue = entities[0]
        assert venue["__typename"] == "Venue"
        assert venue["name"] == fakes.world.venues["v04"].name
        assert venue["distanceMeters"] is None  # a reference has no location
        brand = fakes.world.venues["v04"].brand
        assert brand is not None
        assert venue["brand"] == {"id": brand.id, "name": brand.name}
        assert entities[1]["price"] == {"amount": 1000, "currency": "EUR"}
        paths = sorted(r["path"] for r in fakes.requests["catalog"])
        assert paths == ["/v1/brands:batchGet", "/v1/items:batchGet", "/v1/venues:batchGet"]
        venue_ids = next(
            r["body"]["ids"]
            for r in fakes.requests["catalog"]
            if r["path"] == "/v1/venues:batchGet"
        )
        assert sorted(venue_ids) == ["nope", "v01", "v04"]

        # the catalog client's entity cache: asked again, nothing goes to the backend
        fakes.requests["catalog"].clear()
        again = await _entities(gw, [{"__typename": "Venue", "id": "v01"}])
        assert again.json()["data"]["_entities"][0]["id"] == "v01"
        assert fakes.requests["catalog"] == []


async def test_a_failing_catalog_is_a_coded_error_per_entity_not_a_5xx(
    tmp_path: Path, fakes: FakeBackends
) -> None:
    settings = gateway_settings(tmp_path, fakes, federation=True)
    async with running_gateway(settings, fakes) as gw:
        fakes.fail("catalog", "500")
        response = await _entities(
            gw, [{"__typename": "Venue", "id": "v07"}, {"__typename": "Brand", "id": "b3"}]
        )
        assert response.status_code == 200
        body = response.json()
        assert body["data"]["_entities"] == [None, None]
        codes = {e["extensions"]["code"] for e in body["errors"]}
        assert codes == {"BACKEND_UNAVAILABLE"}
        assert {tuple(e["path"]) for e in body["errors"]} == {("_entities", 0), ("_entities", 1)}
        assert "Traceback" not in response.text


@pytest.mark.parametrize(
    ("representation", "message"),
    [
        ({"__typename": "Order", "id": "o1"}, "No entity type 'Order'"),
        ({"__typename": "Venue"}, "needs its 'id'"),
        ({"__typename": "Venue", "id": True}, "needs its 'id'"),
    ],
)
async def test_a_bad_representation_is_a_bad_user_input_error(
    tmp_path: Path, fakes: FakeBackends, representation: dict[str, Any], message: str
) -> None:
    settings = gateway_settings(tmp_path, fakes, federation=True)
    async with running_gateway(settings, fakes) as gw:
        response = await _entities(gw, [representation, {"__typename": "Brand", "id": "b1"}])
        assert response.status_code == 200
        body = response.json()
        brand = {"__typename": "Brand", "id": "b1", "name": "Brand 1"}
        assert body["data"]["_entities"][1] == brand
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert message in error["message"]


async def test_the_subgraph_answers_root_fields_with_the_viewer_and_service_sdl(
    tmp_path: Path, fakes: FakeBackends
) -> None:
    from gateway.auth import mint_token

    settings = gateway_settings(tmp_path, fakes, federation=True)
    async with running_gateway(settings, fakes) as gw:
        sdl = await gw.client.post("/subgraph", json={"query": "{ _service { sdl } }"})
        assert sdl.json()["data"]["_service"]["sdl"] + "\n" == export_subgraph_sdl()
        page = await gw.client.post(
            "/subgraph",
            json={
                "query": "{ discovery(location: {lat: 60.1699, lon: 24.9384}) "
                "{ degraded sections { id ... on VenueCarousel { venues { id } } } } }"
            },
            headers={"Authorization": f"Bearer {mint_token('u1', SECRET)}"},
        )
        body = page.json()
        assert "errors" not in body, body
        assert body["data"]["discovery"]["sections"]
        refused = await gw.client.post(
            "/subgraph",
            json={"query": "{ _service { sdl } }"},
            headers={"Authorization": "Bearer not-a-token"},
        )
        assert refused.status_code == 401
        assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_no_subgraph_route_unless_federation_is_on(
    tmp_path: Path, fakes: FakeBackends
) -> None:
    async with running_gateway(gateway_settings(tmp_path, fakes), fakes) as gw:
        response = await gw.client.post("/subgraph", json={"query": "{ _service { sdl } }"})
        assert response.status_code == 404
        plain = await gw.query("{ _service { sdl } }")
        assert plain.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
