"""One reading of a request: the persisted-query layer and Strawberry execute the same
parameters; anything ambiguous is a 400; APQ stores only validated documents, bounded."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import redis.asyncio as redis

from clients.cache import ResponseCache
from clients.config import CacheConfig
from gateway.persisted import PersistedQueryStore, sha256_hex, trusted_documents
from gateway.request_reading import RequestRefused, read_json_body, read_query_string
from schema.operations import operation_document, operation_files
from tests.gateway.conftest import HELSINKI, Gateway, GatewayFactory

QUERY = "query Q($loc: LocationInput!) { discovery(location: $loc) { degraded } }"
EVIL = "{ __typename }"
LOC_JSON = '{"location": {"lat": 60.17, "lon": 24.94}}'


def _shipped() -> str:
    path = next(p for p in operation_files() if p.name == "discovery.graphql")
    return operation_document(path)


def _apq(sha: str, query: str | None = None, **more: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha}},
        **more,
    }
    if query is not None:
        body["query"] = query
    return body


@pytest.mark.parametrize("name", ["query", "operationName", "variables", "extensions"])
def test_a_repeated_parameter_is_refused(name: str) -> None:
    value = "{}" if name in ("variables", "extensions") else "x"
    with pytest.raises(RequestRefused, match=name):
        read_query_string(f"{name}={value}&{name}={value}".encode())
    body = f'{{"query": "{{ a }}", "{name}": null, "{name}": null}}'.encode()
    if name == "query":
        body = b'{"query": "{ a }", "query": "{ b }"}'
    with pytest.raises(RequestRefused, match=name):
        read_json_body(body)


@pytest.mark.parametrize("mode", ["trusted", "apq", "off"])
async def test_trusted_then_anything_over_get_is_a_400(
    make_gateway: GatewayFactory, mode: str
) -> None:
    async with make_gateway(persisted_queries=mode) as gw:
        response = await gw.client.get("/graphql", params=[("query", _shipped()), ("query", EVIL)])
        assert response.status_code == 400
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
        duplicate = await gw.client.post(
            "/graphql",
            content=('{"query": "' + EVIL + '", "query": "' + EVIL + '"}').encode(),
            headers={"Content-Type": "application/json"},
        )
        assert duplicate.status_code == 400


async def test_trusted_mode_over_get_post_and_apq(make_gateway: GatewayFactory) -> None:
    shipped = _shipped()
    sha = sha256_hex(shipped)
    async with make_gateway(persisted_queries="trusted") as gw:
        # GET: the shipped text, its hash; anything else refused
        ok_get = await gw.client.get("/graphql", params={"query": shipped, "variables": LOC_JSON})
        assert "errors" not in ok_get.json(), ok_get.json()
        by_hash = await gw.client.get(
            "/graphql",
            params={
                "extensions": '{"persistedQuery": {"version": 1, "sha256Hash": "' + sha + '"}}',
                "variables": LOC_JSON,
            },
        )
        assert "errors" not in by_hash.json(), by_hash.json()
        evil_get = await gw.client.get("/graphql", params={"query": EVIL})
        assert evil_get.json()["errors"][0]["extensions"]["code"] == "OPERATION_NOT_TRUSTED"
        # POST: the same
        ok_post = await gw.client.post(
            "/graphql", json={"query": shipped, "variables": {"location": HELSINKI}}
        )
        assert "errors" not in ok_post.json()
        evil_post = await gw.client.post("/graphql", json={"query": EVIL})
        assert evil_post.status_code == 400
        # APQ: the shipped hash runs; registering anything else is refused
        apq = await gw.client.post("/graphql", json=_apq(sha, variables={"location": HELSINKI}))
        assert "errors" not in apq.json()
        register = await gw.client.post("/graphql", json=_apq(sha256_hex(EVIL), EVIL))
        assert register.json()["errors"][0]["extensions"]["code"] == "OPERATION_NOT_TRUSTED"
        # a trusted hash with an untrusted query beside it: the hash must match the text
        mixed = await gw.client.post("/graphql", json=_apq(sha, EVIL))
        assert mixed.status_code == 400


async def test_apq_stores_a_document_only_after_it_validated(gateway: Gateway) -> None:
    invalid = "{ discovery { nope } }"
    sha = sha256_hex(invalid)
    first = await gateway.client.post("/graphql", json=_apq(sha, invalid))
    assert first.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    again = await gateway.client.post("/graphql", json=_apq(sha))
    assert again.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    valid_sha = sha256_hex(QUERY)
    variables = {"loc": HELSINKI}
    registered = await gateway.client.post(
        "/graphql", json=_apq(valid_sha, QUERY, variables=variables)
    )
    assert "errors" not in registered.json()
    by_hash = await gateway.client.post("/graphql", json=_apq(valid_sha, variables=variables))
    assert "errors" not in by_hash.json()


async def test_the_memory_store_is_bounded_in_entries_and_bytes() -> None:
    store = PersistedQueryStore({}, max_entries=3, max_bytes=1000, max_document_bytes=400)
    documents = [f"{{ __typename }} # {n:03d}" for n in range(10)]
    for text in documents:
        assert await store.put(sha256_hex(text), text)
    assert store.entries == 3
    assert await store.get(sha256_hex(documents[0])) is None
    assert await store.get(sha256_hex(documents[-1])) == documents[-1]
    big = "{ __typename }" + " " * 380
    assert await store.put(sha256_hex(big), big)
    assert store.bytes <= 1000
    too_big = "{ __typename }" + " " * 500
    assert not await store.put(sha256_hex(too_big), too_big)
    assert await store.get(sha256_hex(too_big)) is None


async def test_the_redis_store_is_bounded_in_entries() -> None:
    namespace = f"apq-bound-{uuid.uuid4().hex[:8]}"
    cache = ResponseCache(CacheConfig(redis_url="redis://127.0.0.1:6379/15", namespace=namespace))
    store = PersistedQueryStore({}, cache, max_entries=8)
    client = redis.Redis.from_url("redis://127.0.0.1:6379/15")
    try:
        for n in range(100):
            text = f"{{ __typename }} # {n}"
            await store.put(sha256_hex(text), text)
        keys = [k async for k in client.scan_iter(match=f"{namespace}*")]
        assert 0 < len(keys) <= 8
        # the latest registration is readable by another replica's store
        other = PersistedQueryStore({}, cache, max_entries=8)
        latest = "{ __typename } # 99"
        assert await other.get(sha256_hex(latest)) == latest
    finally:
        keys = [k async for k in client.scan_iter(match=f"{namespace}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
        await cache.aclose()


def test_trusted_documents_are_the_shipped_operations() -> None:
    assert sha256_hex(_shipped()) in trusted_documents()
