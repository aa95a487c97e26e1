"""The catalogue of shipped client operations (``schema/operations/``) against the schema.

Each surface's query, sent with the shared fragments, must validate against the live schema
and execute without errors on the gateway (in-process, over the contract-valid fakes), so
a schema change that would break a query the apps already ship fails CI.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from graphql import OperationDefinitionNode, parse

from schema import SDL_PATH, export_sdl
from schema.operations import FRAGMENTS_FILE, OPERATIONS_DIR, operation_document, operation_files
from tests.fakes import FakeBackends
from tests.gateway.conftest import Gateway, gateway_settings, running_gateway
from tools.schema_check import validate_operations

HELSINKI = {"lat": 60.1699, "lon": 24.9384}
FRAGMENTS = (OPERATIONS_DIR / FRAGMENTS_FILE).read_text(encoding="utf-8")

VARIABLES: dict[str, tuple[str, dict[str, Any]]] = {
    "discovery.graphql": ("discovery", {"location": HELSINKI}),
    "category.graphql": ("category", {"slug": "pizza", "location": HELSINKI, "first": 5}),
    "venue_page.graphql": ("venuePage", {"venueId": "v03", "location": HELSINKI}),
    "cart.graphql": (
        "cart",
        {
            "cart": {"venueId": "v03", "lines": [{"itemId": "i031", "quantity": 2}]},
            "location": HELSINKI,
        },
    ),
}


MUTATIONS = {"record_events.graphql"}


def test_there_is_one_query_per_surface_and_the_events_mutation() -> None:
    files = operation_files()
    assert [p.name for p in files] == sorted({*VARIABLES, *MUTATIONS})
    for path in files:
        [operation] = [
            d
            for d in parse(path.read_text(encoding="utf-8")).definitions
            if isinstance(d, OperationDefinitionNode)
        ]
        assert operation.name is not None, f"{path.name}: operations must be named"
        expected = "mutation" if path.name in MUTATIONS else "query"
        assert operation.operation.value == expected


def test_the_catalogue_validates_against_the_live_schema() -> None:
    assert validate_operations(export_sdl()) == {}


def test_the_catalogue_validates_against_the_committed_snapshot() -> None:
    assert validate_operations(SDL_PATH.read_text(encoding="utf-8")) == {}


def test_a_schema_change_that_breaks_a_shipped_query_is_caught() -> None:
    sdl = export_sdl()
    without_distance = sdl.replace("distanceMeters: Int", "distanceKm: Float", 1)
    assert without_distance != sdl
    broken = validate_operations(without_distance)
    assert {"discovery.graphql", "category.graphql", "venue_page.graphql"} <= set(broken)
    assert any("distanceMeters" in e for e in broken["discovery.graphql"])

    required_arg = sdl.replace(
        "venuePage(", 'venuePage(\n    """Language."""\n    lang: String!\n', 1
    )
    assert required_arg != sdl
    assert set(validate_operations(required_arg)) == {"venue_page.graphql"}


def test_an_unused_fragment_is_reported(tmp_path: Path) -> None:
    for path in OPERATIONS_DIR.glob("*.graphql"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / FRAGMENTS_FILE).write_text(
        FRAGMENTS + "\nfragment Orphan on Venue { id }\n", encoding="utf-8"
    )
    broken = validate_operations(export_sdl(), tmp_path)
    assert "(catalogue)" in broken
    assert any("Orphan" in e for e in broken["(catalogue)"])


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    fakes = FakeBackends()
    async with running_gateway(gateway_settings(tmp_path, fakes), fakes) as gw:
        yield gw


@pytest.mark.parametrize("name", sorted(VARIABLES))
@pytest.mark.parametrize("user", [None, "u0001"], ids=["anonymous", "signed-in"])
async def test_each_shipped_query_executes_without_errors(
    gateway: Gateway, name: str, user: str | None
) -> None:
    root, variables = VARIABLES[name]
    document = operation_document(OPERATIONS_DIR / name)
    response = await gateway.query(document, variables, user=user)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    page = body["data"][root]
    assert page["requestId"]
    assert page["degraded"] is False
    if root == "category":
        assert page["venues"]["edges"]
    else:
        assert page["sections"], f"{name}: no sections"
        assert all(s["__typename"] and s["trackingId"] for s in page["sections"])


async def test_the_shipped_events_mutation_records_what_a_page_showed(gateway: Gateway) -> None:
    page = await gateway.discovery(user="u0001")
    section = next(s for s in page["sections"] if s["__typename"] == "VenueCarousel")
    venue = section["venues"][0]["id"]
    document = operation_document(OPERATIONS_DIR / "record_events.graphql")
    events = [
        {
            "kind": "IMPRESSION",
            "trackingId": section["trackingId"],
            "entityId": venue,
            "position": 0,
        }
    ]
    response = await gateway.query(document, {"events": events}, user="u0001")
    body = response.json()
    assert "errors" not in body, body
    assert body["data"]["recordEvents"]["accepted"] == 1
