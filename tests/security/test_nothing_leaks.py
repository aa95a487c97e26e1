"""Nothing leaks, nothing is trusted from the client: no field suggestions without
introspection, bounded directives and errors, our own ids, bounded telemetry names."""

from __future__ import annotations

import uuid

from prometheus_client import REGISTRY

from tests.gateway.conftest import HELSINKI, Gateway, GatewayFactory
from tests.security.hostile import LOC, directive_overload

TYPO = "{ discovery(" + LOC + ") { degradd } }"


async def test_no_field_suggestions_unless_introspection_is_allowed(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway() as gw:
        [error] = (await gw.query(TYPO)).json()["errors"]
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "Did you mean" not in error["message"]
        assert "degraded" not in error["message"]
        cop = (await gw.query("query cop { __schema { directive } }")).json()
        assert "Did you mean" not in str(cop)
    async with make_gateway(introspection=True) as gw:
        [error] = (await gw.query(TYPO)).json()["errors"]
        assert "Did you mean 'degraded'?" in error["message"]


async def test_directive_overloading_gets_one_refusal(gateway: Gateway) -> None:
    errors = (await gateway.query(directive_overload(10))).json()["errors"]
    assert len(errors) == 1
    assert errors[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    many = " ".join(f"f{n}: __typename @skip(if: false)" for n in range(17))
    errors = (await gateway.query("{ " + many + " }")).json()["errors"]
    assert "directives" in errors[0]["message"]


async def test_errors_per_response_are_capped(gateway: Gateway) -> None:
    unknown = " ".join(f"nope{n}" for n in range(40))
    errors = (await gateway.query("{ discovery(" + LOC + ") { " + unknown + " } }")).json()[
        "errors"
    ]
    assert len(errors) == 20
    assert errors[-1]["extensions"]["code"] == "TOO_MANY_ERRORS"
    assert errors[-1]["message"].startswith("21 more errors")


async def test_request_ids_are_ours(gateway: Gateway) -> None:
    response = await gateway.query(
        "query Q($loc: LocationInput!) { discovery(location: $loc) { requestId } }",
        {"loc": HELSINKI},
        headers={"X-Request-Id": "attacker-chosen"},
    )
    request_id = response.json()["data"]["discovery"]["requestId"]
    assert request_id != "attacker-chosen"
    assert response.headers["x-request-id"] == request_id


async def test_metric_labels_carry_only_shipped_operation_names(gateway: Gateway) -> None:
    name = f"Evil{uuid.uuid4().hex}"
    await gateway.client.post(
        "/graphql",
        json={
            "query": f"query {name}($loc: LocationInput!) {{ discovery(location: $loc) "
            "{ degraded } }",
            "variables": {"loc": HELSINKI},
            "operationName": name,
        },
    )
    labels = {
        sample.labels.get("operation")
        for family in REGISTRY.collect()
        if family.name == "pgw_graphql_requests"
        for sample in family.samples
    }
    assert name not in labels
    assert "other" in labels
