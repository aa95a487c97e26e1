"""Apollo Client 4 (Node, from the npm registry) renders a progressive Discovery page from
the gateway over the live reference backends, ranking slowed to 150 ms (decision 0021).

The first result must carry complete, schema-valid instant sections and no personalised
one; the last, the personalised sections. Timing is asserted with wide margins (CI is a
loaded 2-core machine); the figures themselves come from ``make bench-progressive``.
"""

from __future__ import annotations

from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
)

from schema import build_schema
from tests.live import LiveStack
from tests.node_tools import run_json

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

RANKING_MS = 150
BUDGET_MS = 300  # Discovery's budget in the shipped plans


def assert_valid(value: Any, graphql_type: GraphQLOutputType, path: str = "") -> None:
    """``value`` is a complete value of ``graphql_type`` (for the fields it holds)."""
    if isinstance(graphql_type, GraphQLNonNull):
        assert value is not None, f"{path} is null"
        assert_valid(value, graphql_type.of_type, path)
        return
    if value is None:
        return
    if isinstance(graphql_type, GraphQLList):
        assert isinstance(value, list), path
        for i, item in enumerate(value):
            assert_valid(item, graphql_type.of_type, f"{path}[{i}]")
    elif isinstance(graphql_type, GraphQLEnumType):
        assert value in graphql_type.values, f"{path}: {value!r}"
    elif isinstance(graphql_type, GraphQLScalarType):
        assert isinstance(value, str | int | float | bool), path
    elif isinstance(graphql_type, GraphQLObjectType | GraphQLInterfaceType):
        assert isinstance(value, dict), path
        concrete = graphql_type
        if isinstance(graphql_type, GraphQLInterfaceType):
            concrete = SCHEMA.get_type(value["__typename"])  # type: ignore[assignment]
        for key, item in value.items():
            if key == "__typename":
                continue
            assert_valid(item, concrete.fields[key].type, f"{path}.{key}")


SCHEMA = build_schema()._schema


def test_apollo_client_gets_instant_sections_first_and_personalised_ones_within_budget(
    live: LiveStack,
) -> None:
    warm, viewer = live.token("u0007"), live.token("u0011")
    live.set_fault("ranking", latency_ms=RANKING_MS)
    try:
        # the first page warms the catalog and reference caches; the second, another
        # viewer's (nothing of theirs cached), is the one measured
        code, result = run_json("progressive.mjs", live.graphql_url, f"{warm},{viewer}")
    finally:
        live.clear_faults()
    assert code == 0, result
    run: dict[str, Any] = result["runs"][1]
    emissions = run["emissions"]
    assert len(emissions) >= 2, emissions
    first, last = emissions[0], emissions[-1]

    assert first["loading"] is True
    assert last["loading"] is False
    assert first["instant"], first  # popularity lists and banners, at once
    assert first["personalised"] == []  # nothing personalised waits in the first result
    section = SCHEMA.get_type("Section")
    for slot in first["data"]["discovery"]["layout"]:
        assert set(slot) >= {"id", "instant"}
        if slot["instant"] is not None:
            assert_valid(slot["instant"], GraphQLNonNull(section), slot["id"])  # type: ignore[arg-type]

    layout = run["data"]["discovery"]["layout"]
    personalised = {s["id"]: s["personalised"] for s in layout if s["personalised"]}
    assert "for_you" in personalised, layout
    for slot_id, value in personalised.items():
        assert_valid(value, GraphQLNonNull(section), slot_id)  # type: ignore[arg-type]
        assert value["trackingId"]

    # the first result does not wait for the ranking; the last comes within the budget
    # (3x margins: a loaded CI machine; the 40 ms target is the benchmark's to show)
    assert first["ms"] < last["ms"]
    assert first["ms"] < 3 * BUDGET_MS
    assert last["ms"] < 3 * BUDGET_MS + RANKING_MS
