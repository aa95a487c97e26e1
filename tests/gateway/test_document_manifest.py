"""Persisted-document manifests: the formats client build tools emit, the export of the
shipped operations, and a manifest's documents trusted by a running gateway."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from gateway.cli import app as cli_app
from gateway.compiled.serving import shipped_documents
from gateway.document_manifest import (
    ManifestError,
    by_sha256,
    export_manifest,
    load_manifest,
    parse_manifest,
    sha256_hex,
)
from gateway.settings import Settings
from tests.gateway.conftest import HELSINKI, GatewayFactory

DOC = "query Mine { __typename }"


def test_the_codegen_and_relay_format() -> None:
    assert parse_manifest({"abc": DOC, f"sha256:{sha256_hex(DOC)}": DOC}) == {
        "abc": DOC,
        sha256_hex(DOC): DOC,
    }


def test_the_apollo_format() -> None:
    raw = {
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [{"id": "x1", "name": "Mine", "type": "query", "body": DOC}],
    }
    assert parse_manifest(raw) == {"x1": DOC}


@pytest.mark.parametrize(
    "raw",
    [
        [],
        {"a": 1},
        {"format": "apollo-persisted-query-manifest"},
        {"format": "apollo-persisted-query-manifest", "operations": [{"id": 1}]},
    ],
)
def test_other_shapes_are_refused(raw: object) -> None:
    with pytest.raises(ManifestError):
        parse_manifest(raw)


def test_the_cli_exports_the_shipped_operations(tmp_path: Path) -> None:
    out = tmp_path / "persisted-documents.json"
    result = CliRunner().invoke(cli_app, ["operations", "manifest", "--out", str(out)])
    assert result.exit_code == 0, result.output
    manifest = json.loads(out.read_text(encoding="utf-8"))
    assert manifest == export_manifest(shipped_documents())
    assert all(sha256_hex(text) == key for key, text in manifest.items())
    assert load_manifest(out) == manifest
    assert by_sha256(manifest) == manifest


def test_a_manifest_that_does_not_load_stops_start_up(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"bad\.json"):
        Settings(persisted_documents=bad)


async def test_trusted_mode_runs_a_manifest_document(
    make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    path = tmp_path / "persisted-documents.json"
    path.write_text(json.dumps({"relay-md5-id": DOC}), encoding="utf-8")
    async with make_gateway(persisted_queries="trusted", persisted_documents=path) as gw:
        response = await gw.client.post("/graphql", json={"query": DOC})
        assert response.status_code == 200, response.text
        assert response.json()["data"] == {"__typename": "Query"}
        other = await gw.client.post("/graphql", json={"query": "query Other { __typename }"})
        assert other.json()["errors"][0]["extensions"]["code"] == "OPERATION_NOT_TRUSTED"


# -- documentId -------------------------------------------------------------------------------

DISCOVERY_FEED = next(d for d in shipped_documents() if "query DiscoveryFeed" in d)


async def test_document_id_runs_a_shipped_operation_by_its_sha256(
    make_gateway: GatewayFactory,
) -> None:
    variables = {"location": HELSINKI}
    sha = sha256_hex(DISCOVERY_FEED)
    async with make_gateway() as gw:
        for document_id in (sha, f"sha256:{sha}"):
            response = await gw.client.post(
                "/graphql", json={"documentId": document_id, "variables": variables}
            )
            assert response.status_code == 200, response.text
            assert response.json()["data"]["discovery"]["sections"]
        over_get = await gw.client.get(
            "/graphql", params={"documentId": sha, "variables": json.dumps(variables)}
        )
        assert over_get.status_code == 200, over_get.text
        assert over_get.json()["data"]["discovery"]["sections"]


async def test_document_id_from_a_relay_manifest_in_trusted_mode(
    make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    path = tmp_path / "persisted_queries.json"
    path.write_text(json.dumps({"5e9d0c3a": DOC}), encoding="utf-8")
    async with make_gateway(persisted_queries="trusted", persisted_documents=path) as gw:
        response = await gw.client.post("/graphql", json={"documentId": "5e9d0c3a"})
        assert response.status_code == 200, response.text
        assert response.json()["data"] == {"__typename": "Query"}


async def test_unknown_or_ambiguous_document_ids_are_refused(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway() as gw:
        unknown = await gw.client.post("/graphql", json={"documentId": "nope"})
        assert unknown.status_code == 400
        assert unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_DOCUMENT_NOT_FOUND"
        assert unknown.headers["cache-control"] == "private, no-cache"
        both = await gw.client.post("/graphql", json={"documentId": "x", "query": DOC})
        assert both.status_code == 400
        wrong = await gw.client.post("/graphql", json={"documentId": 7})
        assert wrong.status_code == 400


async def test_apq_not_found_is_never_cached(make_gateway: GatewayFactory) -> None:
    apq = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "a" * 64}}}
    async with make_gateway() as gw:
        response = await gw.client.post("/graphql", json=apq)
        assert response.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        assert response.headers["cache-control"] == "private, no-cache"
        over_get = await gw.client.get(
            "/graphql", params={"extensions": json.dumps(apq["extensions"])}
        )
        assert over_get.headers["cache-control"] == "private, no-cache"
