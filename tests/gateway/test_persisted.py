"""Automatic persisted queries and trusted documents."""

from __future__ import annotations

from typing import Any

from gateway.persisted import sha256_hex, trusted_documents
from schema.operations import operation_document, operation_files
from tests.gateway.conftest import HELSINKI, Gateway, GatewayFactory

QUERY = "query Q($loc: LocationInput!) { discovery(location: $loc) { degraded } }"


def _apq(sha: str, query: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "variables": {"loc": HELSINKI},
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha}},
    }
    if query is not None:
        body["query"] = query
    return body


async def test_apq_round_trip(gateway: Gateway) -> None:
    sha = sha256_hex(QUERY)
    first = await gateway.client.post("/graphql", json=_apq(sha))
    assert first.status_code == 200
    assert first.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    assert first.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    registered = await gateway.client.post("/graphql", json=_apq(sha, QUERY))
    assert registered.json()["data"]["discovery"]["degraded"] is False
    by_hash = await gateway.client.post("/graphql", json=_apq(sha))
    assert by_hash.json()["data"]["discovery"]["degraded"] is False
    params = {
        "extensions": '{"persistedQuery":{"version":1,"sha256Hash":"' + sha + '"}}',
        "variables": '{"loc": {"lat": 60.17, "lon": 24.94}}',
    }
    via_get = await gateway.client.get("/graphql", params=params)
    assert via_get.json()["data"]["discovery"]["degraded"] is False


async def test_hash_mismatch_is_refused(gateway: Gateway) -> None:
    response = await gateway.client.post("/graphql", json=_apq("0" * 64, QUERY))
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_shipped_operations_are_known_by_hash_from_start_up(gateway: Gateway) -> None:
    path = next(p for p in operation_files() if p.name == "discovery.graphql")
    sha = sha256_hex(operation_document(path))
    assert sha in trusted_documents()
    response = await gateway.client.post(
        "/graphql",
        json={
            "variables": {"location": HELSINKI},
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha}},
        },
    )
    assert "errors" not in response.json()
    assert response.json()["data"]["discovery"]["sections"]


async def test_trusted_mode_refuses_anything_else(make_gateway: GatewayFactory) -> None:
    async with make_gateway(persisted_queries="trusted") as gw:
        path = next(p for p in operation_files() if p.name == "discovery.graphql")
        text = operation_document(path)
        ok = await gw.client.post(
            "/graphql", json={"query": text, "variables": {"location": HELSINKI}}
        )
        assert "errors" not in ok.json()
        for body in (
            {"query": QUERY, "variables": {"loc": HELSINKI}},
            _apq(sha256_hex(QUERY), QUERY),
            _apq(sha256_hex(QUERY)),
        ):
            refused = await gw.client.post("/graphql", json=body)
            assert refused.status_code == 400
            assert refused.json()["errors"][0]["extensions"]["code"] == "OPERATION_NOT_TRUSTED"


async def test_registrations_are_shared_through_redis(make_gateway: GatewayFactory) -> None:
    import uuid

    import pytest

    shared = {
        "redis_url": "redis://127.0.0.1:6379/15",
        "cache_namespace": f"apq-{uuid.uuid4().hex[:8]}",
    }
    sha = sha256_hex(QUERY + " ")
    async with make_gateway(**shared) as first, make_gateway(**shared) as second:
        await first.client.post("/graphql", json=_apq(sha, QUERY + " "))
        response = await second.client.post("/graphql", json=_apq(sha))
        if "errors" in response.json():
            pytest.fail(f"second replica did not see the registration: {response.json()}")
        assert response.json()["data"]["discovery"]["degraded"] is False
