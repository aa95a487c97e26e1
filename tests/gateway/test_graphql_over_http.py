"""GraphQL over HTTP: ``application/graphql-response+json`` on request, legacy JSON otherwise.

Each case runs with the compiled path on and off: a shipped document (compiled) and an ad-hoc
one (graphql-core) must answer with the same statuses and shapes.
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.compiled.serving import shipped_documents
from gateway.media import (
    APPLICATION_JSON,
    GRAPHQL_RESPONSE_JSON,
    is_request_error,
    response_media_type,
)
from tests.gateway.conftest import HELSINKI, GatewayFactory

NEW = {"accept": GRAPHQL_RESPONSE_JSON}
LEGACY = {"accept": APPLICATION_JSON}
DISCOVERY_FEED = next(d for d in shipped_documents() if "query DiscoveryFeed" in d)

pytestmark = pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "standard"])


async def _post(
    make_gateway: GatewayFactory, compiled: bool, body: dict[str, Any], headers: dict[str, str]
) -> tuple[int, str, dict[str, Any]]:
    async with make_gateway(compiled_execution=compiled) as gw:
        response = await gw.client.post("/graphql", json=body, headers=headers)
        return response.status_code, response.headers["content-type"], response.json()


async def test_a_query_answers_in_the_asked_media_type(
    make_gateway: GatewayFactory, compiled: bool
) -> None:
    body = {"query": DISCOVERY_FEED, "variables": {"location": HELSINKI}}
    status, content_type, result = await _post(make_gateway, compiled, body, NEW)
    assert (status, content_type.split(";")[0]) == (200, GRAPHQL_RESPONSE_JSON)
    assert result["data"]["discovery"]["sections"]
    status, content_type, result = await _post(make_gateway, compiled, body, LEGACY)
    assert (status, content_type) == (200, APPLICATION_JSON)
    assert result["data"]["discovery"]["sections"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"query": "{"}, id="parse"),
        pytest.param({"query": "{ noSuchField }"}, id="validation"),
        pytest.param(
            {"query": DISCOVERY_FEED, "variables": {"location": {"lat": "north"}}},
            id="variable-coercion",
        ),
        pytest.param({"query": DISCOVERY_FEED, "variables": {}}, id="missing-variable"),
    ],
)
async def test_request_errors_are_400_without_data_in_the_new_media_type(
    make_gateway: GatewayFactory, compiled: bool, body: dict[str, Any]
) -> None:
    status, content_type, result = await _post(make_gateway, compiled, body, NEW)
    assert (status, content_type.split(";")[0]) == (400, GRAPHQL_RESPONSE_JSON)
    assert "data" not in result
    assert all(error["extensions"]["code"] for error in result["errors"])
    # legacy clients: unchanged, 200 with data null
    status, content_type, result = await _post(make_gateway, compiled, body, LEGACY)
    assert (status, content_type) == (200, APPLICATION_JSON)
    assert result["data"] is None
    assert result["errors"]


async def test_a_field_error_keeps_data_and_200(
    make_gateway: GatewayFactory, compiled: bool
) -> None:
    """A bad argument value is a field error (it has a path): the request was executed."""
    body = {"query": DISCOVERY_FEED, "variables": {"location": {"lat": 999.0, "lon": 0.0}}}
    status, _, result = await _post(make_gateway, compiled, body, NEW)
    assert status == 200
    assert "data" in result
    assert result["errors"][0]["path"] == ["discovery"]


async def test_a_mutation_over_get_is_405_with_allow(
    make_gateway: GatewayFactory, compiled: bool
) -> None:
    async with make_gateway(compiled_execution=compiled) as gw:
        for headers in (NEW, LEGACY):
            response = await gw.client.get(
                "/graphql", params={"query": "mutation { __typename }"}, headers=headers
            )
            assert response.status_code == 405
            assert response.headers["allow"] == "POST"
            assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"
        # a query over GET still runs
        response = await gw.client.get("/graphql", params={"query": "{ __typename }"}, headers=NEW)
        assert response.status_code == 200
        assert response.json()["data"] == {"__typename": "Query"}


async def test_refusals_before_graphql_follow_the_media_type(
    make_gateway: GatewayFactory, compiled: bool
) -> None:
    async with make_gateway(compiled_execution=compiled) as gw:
        bad_token = {"authorization": "Bearer nope"}
        response = await gw.client.post(
            "/graphql", json={"query": "{ __typename }"}, headers={**NEW, **bad_token}
        )
        assert response.status_code == 401
        assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON)
        assert "data" not in response.json()
        response = await gw.client.post(
            "/graphql", json={"query": "{ __typename }"}, headers={**LEGACY, **bad_token}
        )
        assert response.status_code == 401
        assert response.json()["data"] is None
        response = await gw.client.post(
            "/graphql", content=b'{ "not json', headers={**NEW, "content-type": "application/json"}
        )
        assert response.status_code == 400
        assert "data" not in response.json()


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, APPLICATION_JSON),
        ("*/*", APPLICATION_JSON),
        ("application/json", APPLICATION_JSON),
        (GRAPHQL_RESPONSE_JSON, GRAPHQL_RESPONSE_JSON),
        (f"{GRAPHQL_RESPONSE_JSON}, application/json;q=0.9", GRAPHQL_RESPONSE_JSON),
        (f"application/json, {GRAPHQL_RESPONSE_JSON};q=0.5", APPLICATION_JSON),
        (f"{GRAPHQL_RESPONSE_JSON};q=0", APPLICATION_JSON),
        (f"{GRAPHQL_RESPONSE_JSON};q=oops, */*", APPLICATION_JSON),
        (f"text/html, {GRAPHQL_RESPONSE_JSON}", GRAPHQL_RESPONSE_JSON),
    ],
)
def test_negotiation(compiled: bool, accept: str | None, expected: str) -> None:
    assert response_media_type(accept) == expected


def test_request_errors_are_errors_without_a_path(compiled: bool) -> None:
    from graphql import ExecutionResult, GraphQLError

    assert is_request_error(ExecutionResult(None, [GraphQLError("bad")]))
    assert not is_request_error(ExecutionResult(None, [GraphQLError("f", path=["discovery"])]))
    assert not is_request_error(ExecutionResult({"a": 1}, [GraphQLError("bad")]))
    assert not is_request_error(ExecutionResult(None, None))
