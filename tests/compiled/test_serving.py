"""The proposed wiring, end to end: the real app with ``CompiledExecutionMixin`` in its
router serves the shipped documents through the compiled path, and the responses (data,
errors, ``extensions.debug``), metrics and access log lines match the standard gateway's."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from gateway.app import gateway_schema
from gateway.compiled.serving import CompiledPath, shipped_documents
from schema.operations import OPERATIONS_DIR, operation_document
from tests.compiled.support import assert_same, encoded
from tests.compiled.test_compiled import VARIABLES
from tests.fakes import FakeBackends
from tests.gateway.conftest import Gateway, gateway_settings, running_gateway

QUERIES = sorted(VARIABLES)


@contextlib.asynccontextmanager
async def _gateway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compiled: bool
) -> AsyncIterator[tuple[Gateway, CompiledPath | None]]:
    fakes = FakeBackends()
    settings = gateway_settings(tmp_path, fakes, compiled_execution=compiled)
    async with running_gateway(settings, fakes) as gw:
        path = gw.app.state.runtime.compiled_path
        assert (path is not None) is compiled
        yield gw, path


def _without_timings(body: dict[str, Any]) -> dict[str, Any]:
    debug = (body.get("extensions") or {}).get("debug")
    if debug:
        debug.pop("requestId", None)  # the gateway's own, new for every request
        for page in debug["pages"]:
            for call in page["backendCalls"]:
                call.pop("ms")
    return body


ROOTS = {
    "discovery.graphql": ("discovery", "discovery"),
    "category.graphql": ("category", "category"),
    "venue_page.graphql": ("venuePage", "venue_page"),
    "cart.graphql": ("cart", "cart"),
}


def _capture(gw: Gateway, method: str) -> list[Any]:
    """Keep the page objects the engine builds (page builds are not deterministic across
    two gateways: timings and sampling differ), to project the very same ones again."""
    surfaces = gw.app.state.runtime.surfaces
    original = getattr(surfaces, method)
    captured: list[Any] = []

    async def capture(*args: Any) -> Any:
        page = await original(*args)
        captured.append(page)
        return page

    setattr(surfaces, method, capture)
    return captured


@pytest.mark.parametrize("name", QUERIES)
async def test_shipped_operations_are_served_compiled_like_standard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    query = operation_document(OPERATIONS_DIR / name)
    root, method = ROOTS[name]
    headers = {"x-request-id": "r1"}
    async with _gateway(tmp_path, monkeypatch, compiled=False) as (gw, _):
        standard = await gw.query(query, VARIABLES[name], user="u0001", headers=headers)
    async with _gateway(tmp_path, monkeypatch, compiled=True) as (gw, path):
        captured = _capture(gw, method)
        response = await gw.query(query, VARIABLES[name], user="u0001", headers=headers)
    assert path is not None
    assert response.status_code == standard.status_code == 200
    body = response.json()
    assert "errors" not in body
    # The data: exactly Strawberry's projection of the page the engine built.
    [page] = captured
    expected, _ = await assert_same(query, VARIABLES[name], {root: page})
    assert encoded({"data": body["data"]}) == encoded(expected)
    # The rest: the same shape as the standard gateway's response.
    assert list(body) == list(standard.json()) == ["data", "extensions"]
    ours = body["extensions"]["debug"]
    theirs = standard.json()["extensions"]["debug"]
    assert ours["requestId"] != theirs["requestId"] != "r1"  # ours, never the client's
    assert [sorted(p) for p in ours["pages"]] == [sorted(p) for p in theirs["pages"]]
    operation = path.lookup(query, None)
    assert operation is not None
    assert operation.fast_executions == 1


async def test_bad_input_and_coercion_errors_are_served_compiled_like_standard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = operation_document(OPERATIONS_DIR / "venue_page.graphql")

    async def send(gw: Gateway) -> Any:
        headers = {"x-request-id": "r2"}
        bad = await gw.query(
            query, {"venueId": "v99", "location": {"lat": 60.1, "lon": 24.9}}, headers=headers
        )
        coercion = await gw.query(
            query, {"venueId": "v03", "location": {"lat": "x"}}, headers=headers
        )
        assert bad.status_code == coercion.status_code == 200
        return _Pair(bad.json(), coercion.json())

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with _gateway(tmp_path / "a", monkeypatch, compiled=False) as (gw, _):
        standard = await send(gw)
    async with _gateway(tmp_path / "b", monkeypatch, compiled=True) as (gw, _):
        compiled = await send(gw)
    for ours, theirs in zip(compiled.bodies, standard.bodies, strict=True):
        assert _without_timings(ours) == _without_timings(theirs)
    assert compiled.bodies[0]["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert compiled.bodies[1]["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


class _Pair:
    def __init__(self, *bodies: dict[str, Any]) -> None:
        self.bodies = bodies


async def test_metrics_and_access_log_see_compiled_operations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    query = operation_document(OPERATIONS_DIR / "discovery.graphql")
    labels = {"operation": "DiscoveryFeed", "surface": "discovery", "outcome": "ok"}
    before = REGISTRY.get_sample_value("pgw_graphql_requests_total", labels) or 0.0
    async with _gateway(tmp_path, monkeypatch, compiled=True) as (gw, path):
        response = await gw.query(query, VARIABLES["discovery.graphql"])
        assert response.status_code == 200
        assert "errors" not in response.json()
    assert path is not None
    after = REGISTRY.get_sample_value("pgw_graphql_requests_total", labels) or 0.0
    assert after == before + 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "{" in line]
    [access] = [line for line in lines if line.get("event") == "graphql"]
    assert access["operation"] == "DiscoveryFeed"
    assert access["surface"] == "discovery"
    assert access["errors"] == 0


def test_limits_keep_documents_off_the_compiled_path() -> None:
    from gateway.limits import Limits

    path = CompiledPath(
        gateway_schema(Limits(max_depth=3, max_aliases=1)),
        documents=shipped_documents(),
        compile_unknown=True,
    )
    assert all(c is None for c in path.known.values())  # too deep for max_depth=3
    loc = "location: {lat: 1, lon: 2}"
    assert path.lookup("{ discovery(" + loc + ") { degraded } }", None) is not None
    two = "{ a: discovery(" + loc + ") { degraded } b: discovery(" + loc + ") { degraded } }"
    assert path.lookup(two, None) is None  # aliases
    assert path.lookup("{ __schema { queryType { name } } }", None) is None


def test_unknown_documents_are_standard_unless_asked() -> None:
    from gateway.limits import Limits

    schema = gateway_schema(Limits())
    query = "{ discovery(location: {lat: 1, lon: 2}) { degraded } }"
    assert CompiledPath(schema).lookup(query, None) is None
    path = CompiledPath(schema, compile_unknown=True, maxsize=1)
    first = path.lookup(query, None)
    assert first is not None
    assert path.lookup(query, None) is first
    path.lookup("{ __typename }", None)
    assert path.lookup(query, None) is not first  # evicted, compiled again
    known = CompiledPath(schema, documents=shipped_documents())
    for text in shipped_documents():
        if "mutation" not in text.split("{")[0]:
            assert known.lookup(text, None) is not None


async def test_get_requests_follow_the_routers_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A known query sent over GET is served compiled too (queries via GET are allowed)."""
    query = operation_document(OPERATIONS_DIR / "discovery.graphql")
    async with _gateway(tmp_path, monkeypatch, compiled=True) as (gw, path):
        assert path is not None
        response = await gw.client.get(
            "/graphql",
            params={"query": query, "variables": json.dumps(VARIABLES["discovery.graphql"])},
        )
        assert response.status_code == 200, response.text
        assert "errors" not in response.json()
        operation = path.lookup(query, None)
        assert operation is not None
        assert operation.fast_executions == 1


def test_an_extension_hooking_field_resolution_disables_the_compiled_path() -> None:
    from graphql import GraphQLResolveInfo
    from strawberry.extensions import SchemaExtension

    from schema import build_schema

    class EveryField(SchemaExtension):
        def resolve(
            self, _next: Any, root: Any, info: GraphQLResolveInfo, *args: Any, **kwargs: Any
        ) -> Any:
            return _next(root, info, *args, **kwargs)

    schema = build_schema([EveryField])
    path = CompiledPath(schema, documents=shipped_documents(), compile_unknown=True)
    assert path.known == {}
    assert path.lookup(shipped_documents()[0], None) is None
