"""A client's mistake gets a coded GraphQL error naming the argument, never a 5xx or a trace."""

from __future__ import annotations

from typing import Any

import pytest

from tests.gateway.conftest import Gateway

LOC = "location: {lat: 60.1699, lon: 24.9384}"
CART = 'cart(cart: {venueId: "v03", lines: %s}, ' + LOC + ") { sections { id } }"

CASES: list[tuple[str, str, str, str]] = [
    (
        "lat out of range",
        "discovery(location: {lat: 91, lon: 24.9}) { degraded }",
        "BAD_USER_INPUT",
        "location.lat",
    ),
    (
        "lon out of range",
        "discovery(location: {lat: 60.1, lon: -180.5}) { degraded }",
        "BAD_USER_INPUT",
        "location.lon",
    ),
    (
        "unknown category",
        f'category(slug: "no-such-thing", {LOC}) {{ degraded }}',
        "BAD_USER_INPUT",
        "slug",
    ),
    (
        "odd slug",
        f'category(slug: "Pizza <script>", {LOC}) {{ degraded }}',
        "BAD_USER_INPUT",
        "slug",
    ),
    (
        "first too big",
        f'category(slug: "pizza", {LOC}, first: 51) {{ degraded }}',
        "BAD_USER_INPUT",
        "first",
    ),
    (
        "first zero",
        f'category(slug: "pizza", {LOC}, first: 0) {{ degraded }}',
        "BAD_USER_INPUT",
        "first",
    ),
    (
        "malformed cursor",
        f'category(slug: "pizza", {LOC}, after: "%%%") {{ degraded }}',
        "BAD_USER_INPUT",
        "after",
    ),
    (
        "forged cursor",
        f'category(slug: "pizza", {LOC}, after: "eHl6") {{ degraded }}',
        "BAD_USER_INPUT",
        "after",
    ),
    ("unknown venue", f'venuePage(venueId: "v99", {LOC}) {{ degraded }}', "NOT_FOUND", "venueId"),
    (
        "empty venue id",
        f'venuePage(venueId: "", {LOC}) {{ degraded }}',
        "BAD_USER_INPUT",
        "venueId",
    ),
    ("empty cart", CART % "[]", "BAD_USER_INPUT", "cart.lines"),
    (
        "zero quantity",
        CART % '[{itemId: "i031", quantity: 0}]',
        "BAD_USER_INPUT",
        "cart.lines[0].quantity",
    ),
    (
        "negative quantity",
        CART % '[{itemId: "i031", quantity: 1}, {itemId: "i032", quantity: -2}]',
        "BAD_USER_INPUT",
        "cart.lines[1].quantity",
    ),
    ("unknown item", CART % '[{itemId: "i999", quantity: 1}]', "NOT_FOUND", "cart.lines[0].itemId"),
    (
        "item of another venue",
        CART % '[{itemId: "i041", quantity: 1}]',
        "BAD_USER_INPUT",
        "cart.lines[0].itemId",
    ),
]


@pytest.mark.parametrize(("name", "field", "code", "argument"), CASES, ids=[c[0] for c in CASES])
async def test_bad_input_gets_a_coded_error(
    gateway: Gateway, name: str, field: str, code: str, argument: str
) -> None:
    response = await gateway.query("query { " + field + " }")
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == code, error
    assert error["extensions"]["argument"] == argument
    assert argument.split(".")[-1].split("[")[0] in error["message"]
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        (
            'query { discovery(location: {lat: "x", lon: 1}) { degraded } }',
            {},
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "query { discovery(location: {lat: 1, lon: 1}) { nope } }",
            {},
            "GRAPHQL_VALIDATION_FAILED",
        ),
        ("query { discovery(", {}, "GRAPHQL_PARSE_FAILED"),
        (
            "query($l: LocationInput!) { discovery(location: $l) { degraded } }",
            {"l": {"lat": "north", "lon": 1}},
            "BAD_USER_INPUT",
        ),
        (
            'query($f: Int!) { category(slug: "pizza", location: {lat: 1, lon: 1}, first: $f) '
            "{ degraded } }",
            {"f": 2**40},
            "BAD_USER_INPUT",
        ),
        (
            'query { category(slug: "pizza", location: {lat: 1, lon: 1}, first: 99999999999) '
            "{ degraded } }",
            {},
            "GRAPHQL_VALIDATION_FAILED",
        ),
    ],
)
async def test_malformed_documents_and_variables_are_coded(
    gateway: Gateway, query: str, variables: dict[str, Any], code: str
) -> None:
    response = await gateway.client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code < 500
    errors = response.json()["errors"]
    assert errors
    assert all(e["extensions"]["code"] == code for e in errors), errors
    assert "Traceback" not in response.text


async def test_invalid_token_is_refused_not_downgraded(gateway: Gateway) -> None:
    response = await gateway.client.post(
        "/graphql",
        json={"query": "{ discovery(location: {lat: 60.17, lon: 24.94}) { degraded } }"},
        headers={"Authorization": "Bearer not-a-jwt"},
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_unexpected_errors_are_masked_with_the_request_id(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    surfaces = gateway.app.state.runtime.surfaces

    async def explode(*_a: Any, **_k: Any) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(surfaces, "discovery", explode)
    response = await gateway.query(
        "{ discovery(location: {lat: 60.17, lon: 24.94}) { degraded } }",
        headers={"X-Request-Id": "req-123"},
    )
    assert response.status_code == 200
    [error] = response.json()["errors"]
    ours = response.headers["x-request-id"]
    assert ours != "req-123"  # the gateway's id; the client's is only a log correlation id
    assert error["message"] == f"Internal error (request id {ours})."
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "secret" not in response.text
