"""The compiled path on the shipped operations, on what it refuses, and on errors."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from graphql import parse

from bench.compiled_path import realistic_pages
from gateway.compiled import compile_operation
from resolvers.errors import BadUserInput, NotFound
from schema.operations import OPERATIONS_DIR, operation_document, operation_files
from tests.compiled.support import (
    HELSINKI,
    SCHEMA,
    FakeSurfaces,
    assert_same,
    compile_text,
    compiled_run,
)

PAGES = realistic_pages(sections=3, venues=4)

VARIABLES: dict[str, dict[str, Any]] = {
    "discovery.graphql": {"location": HELSINKI},
    "category.graphql": {"slug": "pizza", "location": HELSINKI, "first": 5},
    "venue_page.graphql": {"venueId": "v03", "location": HELSINKI},
    "cart.graphql": {
        "cart": {"venueId": "v03", "lines": [{"itemId": "i031", "quantity": 2}]},
        "location": HELSINKI,
    },
}

LOC = "location: {lat: 60.1699, lon: 24.9384}"


QUERIES = [p.name for p in operation_files() if p.name in VARIABLES]


def test_every_shipped_query_is_covered_and_mutations_are_not_compiled() -> None:
    for path in operation_files():
        document = operation_document(path)
        if path.name in VARIABLES:
            assert compile_text(document) is not None, path.name
        else:
            assert parse(document).definitions[0].operation.value != "query", path.name  # type: ignore[attr-defined]
            assert compile_text(document) is None, path.name


@pytest.mark.parametrize("name", QUERIES)
async def test_each_shipped_operation_compiles_and_matches_standard_execution(name: str) -> None:
    query = operation_document(OPERATIONS_DIR / name)
    response, compiled = await assert_same(query, VARIABLES[name], PAGES)
    assert compiled.fast_executions == 1
    assert compiled.standard_executions == 0
    assert "errors" not in response
    [root] = compiled.root_fields
    assert root.response_key == root.field_name
    assert {a.name.value for a in root.arguments} <= set(VARIABLES[name]) | {"first", "after"}


async def test_each_shipped_operation_matches_on_a_full_size_page() -> None:
    query = operation_document(OPERATIONS_DIR / "discovery.graphql")
    pages = realistic_pages(sections=7, venues=20)
    response, compiled = await assert_same(query, {"location": HELSINKI}, pages)
    assert len(response["data"]["discovery"]["sections"]) == 11
    assert compiled.standard_executions == 0


@pytest.mark.parametrize(
    "query",
    [
        "{ __schema { types { name } } }",
        '{ __type(name: "Venue") { name } }',
        "{ discovery(" + LOC + ") { degraded } __schema { queryType { name } } }",
        "mutation { discovery(" + LOC + ") { degraded } }",
        "subscription { discovery(" + LOC + ") { degraded } }",
        "{ discovery(" + LOC + ") { degraded @defer } }",
        "{ discovery(" + LOC + ") { ... @defer { degraded } } }",
        "{ discovery(" + LOC + ") { degraded @unknown } }",
        "{ discovery(" + LOC + ") { nope } }",
        "{ discovery { degraded } }",
        "query A { __typename } query B { __typename }",
        "{ discovery(" + LOC + ") { degraded ",
    ][:-1],
)
def test_unsupported_or_invalid_documents_are_not_compiled(query: str) -> None:
    assert compile_text(query) is None


def test_an_unknown_operation_name_is_not_compiled() -> None:
    assert compile_text("query A { __typename }", "B") is None
    assert compile_text("query A { __typename } query B { __typename }", "B") is not None


def test_limits_given_as_rules_are_checked_at_compile_time() -> None:
    from gateway.limits import root_field_limit

    query = "{ a: discovery(" + LOC + ") { degraded } b: discovery(" + LOC + ") { degraded } }"
    document = parse(query)
    assert compile_operation(SCHEMA, document, None) is not None
    assert compile_operation(SCHEMA, document, None, rules=[root_field_limit(1)]) is None


async def test_typename_alone_and_at_the_root() -> None:
    await assert_same("{ __typename }", None, PAGES)
    await assert_same(
        "{ t: __typename discovery(" + LOC + ") { __typename } __typename }", None, PAGES
    )


async def test_aliases_merging_and_several_root_fields() -> None:
    query = """
    query Two($loc: LocationInput!, $more: Boolean!) {
      home: discovery(location: $loc) {
        sections { id ... on VenueCarousel { venues { id } } }
        sections { title ... on VenueCarousel { venues { name } first: venues { slug } } }
        ...Deg @skip(if: $more)
      }
      __typename
      basket: cart(cart: {venueId: "v03", lines: [{itemId: "i1", quantity: 1}]}, location: $loc) {
        sections @include(if: $more) { __typename ...Head }
      }
    }
    fragment Deg on DiscoveryPage { degraded requestId }
    fragment Head on Section { id source }
    """
    for more in (True, False):
        await assert_same(query, {"loc": HELSINKI, "more": more}, PAGES)


@pytest.mark.parametrize(
    "error",
    [
        BadUserInput("Argument 'location.lat' must be a latitude.", argument="location.lat"),
        NotFound("Unknown venue 'v99'.", argument="venueId"),
        BadUserInput("No argument named."),
        RuntimeError("a bug"),
    ],
    ids=["bad-input", "not-found", "no-argument", "bug"],
)
async def test_resolver_errors_match_standard_execution(error: Exception) -> None:
    query = "query Q($loc: LocationInput!) { page: discovery(location: $loc) { degraded } }"
    response, _ = await assert_same(query, {"loc": HELSINKI}, PAGES, raises={"discovery": error})
    assert response["data"] is None
    [coded] = response["errors"]
    assert coded["path"] == ["page"]
    assert coded["locations"] == [{"line": 1, "column": 33}]
    assert coded["extensions"]["code"] in ("BAD_USER_INPUT", "NOT_FOUND", "INTERNAL_SERVER_ERROR")


async def test_one_failing_root_field_nulls_the_whole_response() -> None:
    query = (
        "{ a: discovery(" + LOC + ") { degraded } "
        'b: venuePage(venueId: "v99", ' + LOC + ") { degraded } }"
    )
    response, _ = await assert_same(
        query, None, PAGES, raises={"venuePage": NotFound("Unknown venue.", argument="venueId")}
    )
    assert response["data"] is None
    assert [e["path"] for e in response["errors"]] == [["b"]]


@pytest.mark.parametrize(
    "variables",
    [
        {},
        {"loc": None},
        {"loc": {"lat": "north", "lon": 1}},
        {"loc": {"lat": 1}},
        {"loc": {"lat": 1, "lon": 2, "alt": 3}},
        {"loc": {"lat": 1, "lon": 2}, "first": "many"},
        {"loc": {"lat": 1, "lon": 2}, "first": 2**40},
    ],
)
async def test_variable_coercion_errors_match_standard_execution(variables: dict[str, Any]) -> None:
    query = (
        "query Q($loc: LocationInput!, $first: Int = 3) "
        '{ category(slug: "pizza", location: $loc, first: $first) { degraded } }'
    )
    response, compiled = await assert_same(query, variables, PAGES)
    assert response["data"] is None
    assert all(e["extensions"]["code"] == "BAD_USER_INPUT" for e in response["errors"])
    assert compiled.fast_executions == compiled.standard_executions == 0


async def test_a_null_in_a_non_null_field_falls_back_without_resolving_twice() -> None:
    import dataclasses

    discovery = PAGES["discovery"]
    carousel = discovery.sections[0]
    broken_venue = dataclasses.replace(carousel.venues[0], name=None)
    broken = dataclasses.replace(
        discovery,
        sections=[dataclasses.replace(carousel, venues=[broken_venue]), *discovery.sections[1:]],
    )
    query = operation_document(OPERATIONS_DIR / "discovery.graphql")
    response, compiled = await assert_same(query, {"location": HELSINKI}, {"discovery": broken})
    assert compiled.standard_executions == 1
    assert response["data"] is None
    [error] = response["errors"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["path"] == ["discovery", "sections", 0, "venues", 0, "name"]


async def test_values_needing_coercion_are_coerced_by_the_types_own_rules() -> None:
    import dataclasses

    venue = dataclasses.replace(PAGES["venuePage"].venue, rating=8, price_level=True)
    page = dataclasses.replace(PAGES["venuePage"], venue=venue)
    query = operation_document(OPERATIONS_DIR / "venue_page.graphql")
    response, compiled = await assert_same(
        query, VARIABLES["venue_page.graphql"], {"venuePage": page}
    )
    assert response["data"]["venuePage"]["venue"]["rating"] == 8.0
    assert response["data"]["venuePage"]["venue"]["priceLevel"] == 1
    assert (compiled.fast_executions, compiled.standard_executions) == (1, 0)


async def test_root_fields_run_concurrently() -> None:
    started: list[str] = []
    both = asyncio.Event()

    class Slow(FakeSurfaces):
        async def _answer(self, surface: str, *args: Any) -> Any:
            started.append(surface)
            if len(started) == 2:
                both.set()
            await asyncio.wait_for(both.wait(), 1)
            return await super()._answer(surface, *args)

    query = "{ a: discovery(" + LOC + ") { degraded } b: discovery(" + LOC + ") { degraded } }"
    compiled = compile_text(query)
    assert compiled is not None
    response = await compiled_run(compiled, None, Slow(PAGES))
    assert response == {"data": {"a": {"degraded": False}, "b": {"degraded": False}}}


async def test_plain_call_root_returning_page_objects() -> None:
    """``execute`` needs nothing but a ``call_root``: no Strawberry context at all."""
    query = operation_document(OPERATIONS_DIR / "category.graphql")
    compiled = compile_text(query)
    assert compiled is not None
    seen: list[tuple[str, dict[str, Any]]] = []

    async def call_root(field_name: str, args: dict[str, Any]) -> Any:
        seen.append((field_name, args))
        return PAGES[field_name]

    response = await compiled.execute(
        {"slug": "pizza", "location": HELSINKI, "after": "abc"}, call_root
    )
    assert seen == [
        ("category", {"slug": "pizza", "location": HELSINKI, "first": 20, "after": "abc"})
    ]
    assert response["data"]["category"]["venues"]["totalCount"] == 123
    assert response["data"]["category"]["source"] == "CANDIDATE_ORDER"


async def test_a_condition_graphql_core_refuses_is_reported_as_standard_execution_does() -> None:
    """``$c`` may be null (it has a default), but ``@include(if:)`` may not: graphql-core
    reports that while collecting fields; the compiled path lets it (same error, the root
    resolved once, as there)."""
    query = "query Q($c: Boolean = true) { discovery(" + LOC + ") { degraded @include(if: $c) } }"
    response, compiled = await assert_same(query, {"c": None}, PAGES)
    assert response["data"] is None
    assert compiled.standard_executions == 1
    for c in (True, False):
        await assert_same(query, {"c": c}, PAGES, compiled=compiled)
    assert compiled.fast_executions == 2
