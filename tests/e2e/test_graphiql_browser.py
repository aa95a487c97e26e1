"""GraphiQL in a real browser, against a real gateway over HTTP (fake backends): the page
loads from the gateway alone, a query is built by clicking in the explorer and run, and a
shipped operation's tab runs with its example variables and the demo viewer's token.
Screenshots are kept as artefacts (``tests/artefacts.py``: ``var/artefacts/graphiql/``).

Chromium runs offline (``tests/browser_support.py``): the IDE must work with no internet.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateway import graphiql
from gateway.app import GRAPHIQL_DEMO_VIEWER, _graphiql_page
from gateway.graphiql import ASSETS, graphiql_html, missing_assets, mount_graphiql_assets
from gateway.settings import Settings
from schema.operations import operation_examples, operation_files
from tests.artefacts import artefact_dir
from tests.browser_support import Seen, is_local, offline_page
from tests.threaded_gateway import serving

# GraphiQL 4 renders its editors with CodeMirror 5: each ``.CodeMirror`` element carries its
# editor instance, the reliable way to read editor contents.
GET_EDITOR = """(selector) => {
  const el = document.querySelector(selector);
  return el && el.CodeMirror ? el.CodeMirror.getValue() : "";
}"""
QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
RESPONSE = ".graphiql-response .CodeMirror"
TOOL_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"
WAIT_RESPONSE = """(needles) => {
  const el = document.querySelector(".graphiql-response .CodeMirror");
  const text = el && el.CodeMirror ? el.CodeMirror.getValue() : "";
  return needles.every((n) => text.includes(n));
}"""


@pytest.fixture
def page() -> Iterator[tuple[Any, Seen]]:
    missing = missing_assets()
    if missing:
        pytest.fail(f"GraphiQL bundle missing ({missing[0]}): run `make assets`")
    with offline_page() as opened:
        yield opened


@pytest.mark.browser
def test_graphiql_builds_runs_and_opens_shipped_operations_offline(
    tmp_path: Path, page: tuple[Any, Seen]
) -> None:
    tab, seen = page
    shots = artefact_dir("graphiql")
    with serving(tmp_path, introspection=True, environment="development") as base:
        _drive(tab, f"{base}/graphql", shots)
    assert seen.foreign == [], f"the page reached beyond loopback: {seen.foreign}"
    assert all(is_local(url) for url in seen.requests), seen.requests
    assets = {urlsplit(u).path.rsplit("/", 1)[-1] for u in seen.requests if "/assets/" in u}
    assert assets == set(ASSETS)
    assert seen.errors == [], seen.errors
    assert (shots / "explorer-query.png").stat().st_size > 10_000


def _drive(tab: Any, url: str, shots: Path) -> None:
    """Build a query in the explorer, run it, open and run a shipped operation's tab."""
    try:
        response = tab.goto(url, wait_until="load")
        assert response is not None
        assert response.status == 200
        assert "text/html" in response.headers.get("content-type", "")

        # the explorer is open; build `discovery(location:) { degraded sections { title source } }`
        tab.locator(".graphiql-explorer-root [data-field-name=discovery]").click()
        explorer = tab.locator(".graphiql-explorer-root .graphiql-explorer-discovery")
        explorer.locator(".graphiql-explorer-lat input").fill("60.1699")
        explorer.locator(".graphiql-explorer-lon input").fill("24.9384")
        explorer.locator("[data-field-name=degraded]").click()
        explorer.locator("[data-field-name=sections]").click()
        sections = explorer.locator(".graphiql-explorer-sections")
        sections.locator("[data-field-name=title]").first.click()
        sections.locator("[data-field-name=source]").first.click()
        built = tab.evaluate(GET_EDITOR, QUERY_EDITOR)
        assert re.search(r"discovery\(location: \{lat: 60\.1699, lon: 24\.9384\}\)", built), built
        assert "title" in built, built
        assert "source" in built, built

        tab.locator(".graphiql-execute-button").click()
        tab.wait_for_function(WAIT_RESPONSE, arg=['"sections"', '"source"'])
        body = json.loads(tab.evaluate(GET_EDITOR, RESPONSE))
        assert not body.get("errors"), body
        titles = [s["title"] for s in body["data"]["discovery"]["sections"]]
        assert "For you" in titles, titles  # the demo viewer's token made it personal
        tab.screenshot(path=str(shots / "explorer-query.png"))

        # a shipped operation's tab: its document, example variables and the token
        tabs = tab.locator(".graphiql-tab")
        assert tabs.count() == 1 + len(operation_files())
        tab.locator(".graphiql-tab", has_text="DiscoveryFeed").click()
        tab.wait_for_function(
            "(s) => (document.querySelector(s)?.CodeMirror?.getValue() || '')"
            ".includes('query DiscoveryFeed')",
            arg=QUERY_EDITOR,
        )
        headers = json.loads(tab.evaluate(GET_EDITOR, TOOL_EDITOR))
        assert headers["Authorization"].startswith("Bearer ")
        tab.get_by_role("button", name="Variables").first.click()
        variables = json.loads(tab.evaluate(GET_EDITOR, TOOL_EDITOR))
        assert variables == operation_examples()["discovery.graphql"]
        tab.locator(".graphiql-execute-button").click()
        tab.wait_for_function(WAIT_RESPONSE, arg=['"trackingId"'])
        body = json.loads(tab.evaluate(GET_EDITOR, RESPONSE))
        assert not body.get("errors"), body
        assert body["data"]["discovery"]["sections"]
        tab.screenshot(path=str(shots / "shipped-operation.png"))
    except Exception:
        tab.screenshot(path=str(shots / "failure.png"), full_page=True)
        (shots / "failure.html").write_text(tab.content(), encoding="utf-8")
        raise


# ---------------------------------------------------------------- the page, without a browser


def test_the_page_opens_the_explore_tab_then_each_shipped_operation() -> None:
    page = graphiql_html(headers='{"Authorization": "Bearer t"}')
    raw = re.search(
        r'<script id="pgw-graphiql-config" type="application/json">(.*?)</script>', page
    )
    assert raw is not None
    config = json.loads(raw.group(1))
    tabs = config["tabs"]
    assert "query Explore" in tabs[0]["query"]
    examples = operation_examples()
    assert len(tabs) == 1 + len(operation_files())
    for path, shipped in zip(operation_files(), tabs[1:], strict=True):
        assert json.loads(shipped["variables"]) == examples[path.name]
        assert shipped["headers"] == '{"Authorization": "Bearer t"}'
    assert config["defaultHeaders"] == '{"Authorization": "Bearer t"}'


def test_the_demo_token_is_offered_outside_production_only(tmp_path: Path) -> None:
    secret = "graphiql-test-secret-0123456789-abcdefghijkl"
    development = Settings(environment="development", jwt_secret=secret)
    config = json.loads(
        re.search(r'type="application/json">(.*?)</script>', _graphiql_page(development)).group(1)  # type: ignore[union-attr]
    )
    bearer = json.loads(config["defaultHeaders"])["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(bearer, secret, algorithms=["HS256"])
    assert claims["sub"] == GRAPHIQL_DEMO_VIEWER
    production = Settings(
        environment="production",
        jwt_secret=secret,
        graphiql=True,
        tracking_key="t" * 40,
    )
    assert "Authorization" not in _graphiql_page(production)


def test_assets_are_allow_listed() -> None:
    if missing_assets():
        pytest.fail("GraphiQL bundle missing: run `make assets`")
    app = FastAPI()
    mount_graphiql_assets(app)
    with TestClient(app) as client:
        for name in ASSETS:
            response = client.get(f"/graphiql/assets/{name}")
            assert response.status_code == 200, name
            assert response.headers["content-type"].startswith(("text/javascript", "text/css"))
        for other in (
            "graphiql.js.LEGAL.txt",
            "../package.json",
            "../src/main.jsx",
            "%2e%2e/package-lock.json",
            "",
        ):
            assert client.get(f"/graphiql/assets/{other}").status_code == 404, other


def test_page_references_only_local_assets() -> None:
    page = graphiql_html()
    assert "make assets" not in page
    urls = re.findall(r'(?:src|href)="([^"?]+)', page)
    assert sorted(urls) == sorted(f"/graphiql/assets/{name}" for name in ASSETS)
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", page), "external URL in page"
    custom = graphiql_html("/api/</script><b>", "/static/gq/")
    assert "</script><b>" not in custom  # the endpoint is JSON-escaped inside the script
    assert 'src="/static/gq/graphiql.js?v=' in custom


def test_missing_assets_page_and_strict_mount(tmp_path: Path) -> None:
    page = graphiql_html(dist=tmp_path)
    assert "make assets" in page
    assert "<script" not in page
    with pytest.raises(graphiql.GraphiQLAssetsMissingError, match="make assets"):
        mount_graphiql_assets(FastAPI(), dist=tmp_path, strict=True)
    app = FastAPI()
    mount_graphiql_assets(app, dist=tmp_path)  # lenient: warns, and the files answer 404
    with TestClient(app) as client:
        response = client.get("/graphiql/assets/graphiql.js")
        assert response.status_code == 404
        assert "make assets" in response.text
