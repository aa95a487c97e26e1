"""The compiled path against the real gateway in-process (fake backends over respx).

The same document is sent to the gateway over HTTP (Strawberry's path: context, limits,
error coding, orjson) and executed by the compiled path with the app's own ``Surfaces``:
client errors and variable coercion errors must come back identical.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from graphql import parse

from gateway.app import gateway_schema
from gateway.compiled import compile_operation, root_caller
from resolvers import RequestScope, Viewer
from schema import GatewayContext
from tests.compiled.support import assert_same, encoded
from tests.gateway.conftest import DISCOVERY, HELSINKI, Gateway, fakes, gateway
from tests.gateway.test_bad_input import CASES

__all__ = ["fakes", "gateway"]


async def _both(
    gw: Gateway, query: str, variables: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    response = await gw.query(query, variables)
    body = response.json()
    expected = {"data": body["data"], **({"errors": body["errors"]} if "errors" in body else {})}
    runtime = gw.app.state.runtime
    graphql_schema = gateway_schema(runtime.settings.limits())._schema
    compiled = compile_operation(graphql_schema, parse(query), None)
    assert compiled is not None
    viewer = Viewer(request_id="compiled", user_id=None)
    scope = RequestScope.arrived_at(viewer, time.monotonic())
    context = GatewayContext(surfaces=runtime.surfaces, scope=scope)
    actual = await compiled.execute(variables, root_caller(compiled, context), context=context)
    return actual, expected


@pytest.mark.parametrize(("name", "field", "code", "argument"), CASES, ids=[c[0] for c in CASES])
async def test_client_errors_are_the_gateways(
    gateway: Gateway,
    name: str,
    field: str,
    code: str,
    argument: str,
) -> None:
    actual, expected = await _both(gateway, "query { " + field + " }")
    assert actual == expected
    assert actual["errors"][0]["extensions"] == {"code": code, "argument": argument}


@pytest.mark.parametrize(
    "variables",
    [
        {},
        {"loc": {"lat": "x", "lon": 1}},
        {"loc": {"lat": 1}},
        {"loc": {"lat": 1, "lon": 2, "zzz": 3}},
        {"loc": [1, 2]},
    ],
)
async def test_variable_coercion_errors_are_the_gateways(
    gateway: Gateway,
    variables: dict[str, Any],
) -> None:
    query = "query Q($loc: LocationInput!) { discovery(location: $loc) { degraded } }"
    actual, expected = await _both(gateway, query, variables)
    assert actual == expected
    assert actual["data"] is None
    assert {e["extensions"]["code"] for e in actual["errors"]} == {"BAD_USER_INPUT"}


async def test_a_page_from_the_real_engine_is_projected_like_strawberry_projects_it(
    gateway: Gateway,
) -> None:
    """Both ways over one real page build: the engine's page is captured once and served
    to the compiled path, so the request ids and sources agree."""
    response = await gateway.query(DISCOVERY, {"loc": HELSINKI})
    body = response.json()
    assert "errors" not in body
    runtime = gateway.app.state.runtime
    captured: list[Any] = []
    original = runtime.surfaces.discovery

    async def capture(*args: Any) -> Any:
        page = await original(*args)
        captured.append(page)
        return page

    graphql_schema = gateway_schema(runtime.settings.limits())._schema
    compiled = compile_operation(graphql_schema, parse(DISCOVERY), None)
    assert compiled is not None
    viewer = Viewer(request_id="compiled", user_id=None)
    scope = RequestScope.arrived_at(viewer, time.monotonic())
    context = GatewayContext(surfaces=runtime.surfaces, scope=scope)
    runtime.surfaces.discovery = capture
    try:
        actual = await compiled.execute(
            {"loc": HELSINKI}, root_caller(compiled, context), context=context
        )
    finally:
        del runtime.surfaces.discovery
    [page] = captured
    expected, _ = await assert_same(DISCOVERY, {"loc": HELSINKI}, {"discovery": page})
    assert encoded(actual) == encoded(expected)
    assert actual["data"]["discovery"]["sections"]
    assert context.report.surface == "discovery"
