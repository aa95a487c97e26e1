"""GraphiQL in a real browser: the page loads from the gateway alone and runs a query.

Debian's Chromium (``make browser`` installs it) is driven through the ``playwright``
package; ``playwright install`` is never needed. Every request the page makes is recorded
(and anything not for loopback is aborted): the IDE must work with no internet.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.testclient import TestClient

from gateway import graphiql
from gateway.graphiql import ASSETS, graphiql_html, missing_assets, mount_graphiql_assets
from tests.live import LiveStack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1"}
NON_NETWORK_SCHEMES = {"data", "blob", "about", "chrome-error"}

QUERY = """\
query BrowserDiscovery {
  discovery(location: {lat: 60.1699, lon: 24.9384}) {
    requestId
    degraded
    sections {
      __typename
      id
      title
      source
      ... on VenueCarousel { venues { id name } }
    }
  }
}
"""

# GraphiQL 3 renders its editors with CodeMirror 5: each ``.CodeMirror`` element carries
# its editor instance, which is the reliable way to set and read editor contents.
SET_EDITOR = """([selector, value]) => {
  const el = document.querySelector(selector);
  if (!el || !el.CodeMirror) { throw new Error("no CodeMirror editor at " + selector); }
  el.CodeMirror.setValue(value);
}"""
GET_EDITOR = """(selector) => {
  const el = document.querySelector(selector);
  return el && el.CodeMirror ? el.CodeMirror.getValue() : "";
}"""
RESULT_TEXT = """() => {
  const el = document.querySelector(".graphiql-response .CodeMirror");
  return el && el.CodeMirror ? el.CodeMirror.getValue() : "";
}"""
QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
HEADERS_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"


@dataclass
class BrowserRun:
    """What happened in the page."""

    requests: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    result: str = ""
    default_query: str = ""


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in NON_NETWORK_SCHEMES:
        return True
    return parts.hostname in LOCAL_HOSTS


def run_graphiql(
    graphql_url: str,
    shots: Path,
    *,
    headers: dict[str, str] | None = None,
    query: str | None = QUERY,
    expect: tuple[str, ...] = ('"sections"', "For you"),
    timeout_ms: float = 30_000,
    screenshot_always: bool = False,
) -> BrowserRun:
    """Open GraphiQL at ``graphql_url``, run ``query`` with ``headers``, return the run.

    ``query=None`` runs the page's own default query.

    A screenshot (``graphiql-failure.png``) and the page's HTML land in ``shots`` on failure.
    """
    from playwright.sync_api import Request as BrowserRequest
    from playwright.sync_api import Route, sync_playwright

    run = BrowserRun()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(service_workers="block")

            def guard(route: Route, request: BrowserRequest) -> None:
                if _is_local(request.url):
                    route.continue_()
                else:
                    run.foreign.append(request.url)
                    route.abort("blockedbyclient")

            context.route("**/*", guard)
            page = context.new_page()
            page.on("request", lambda request: run.requests.append(request.url))
            page.on(
                "console",
                lambda msg: run.console_errors.append(msg.text) if msg.type == "error" else None,
            )
            page.on("pageerror", lambda exc: run.console_errors.append(str(exc)))
            page.set_default_timeout(timeout_ms)
            try:
                response = page.goto(graphql_url, wait_until="load")
                assert response is not None
                assert response.status == 200, f"GET {graphql_url}: {response.status}"
                assert "text/html" in response.headers.get("content-type", "")
                page.wait_for_selector(QUERY_EDITOR)
                run.default_query = page.evaluate(GET_EDITOR, QUERY_EDITOR)
                if query is not None:
                    page.evaluate(SET_EDITOR, [QUERY_EDITOR, query])
                if headers:
                    page.get_by_role("button", name="Headers").first.click()
                    page.wait_for_selector(HEADERS_EDITOR)
                    page.evaluate(SET_EDITOR, [HEADERS_EDITOR, json.dumps(headers)])
                page.locator(".graphiql-execute-button").click()
                page.wait_for_function(
                    """(needles) => {
                      const el = document.querySelector(".graphiql-response .CodeMirror");
                      const text = el && el.CodeMirror ? el.CodeMirror.getValue() : "";
                      return needles.every((n) => text.includes(n));
                    }""",
                    arg=list(expect),
                )
                run.result = page.evaluate(RESULT_TEXT)
                if screenshot_always:
                    page.screenshot(path=str(shots / "graphiql.png"), full_page=True)
            except Exception as exc:
                shots.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shots / "graphiql-failure.png"), full_page=True)
                (shots / "graphiql-failure.html").write_text(page.content(), encoding="utf-8")
                with contextlib.suppress(Exception):
                    run.result = page.evaluate(RESULT_TEXT)
                if run.foreign:
                    raise AssertionError(
                        f"the page needs the internet (blocked: {run.foreign}); "
                        f"screenshot: {shots / 'graphiql-failure.png'}"
                    ) from exc
                raise
            finally:
                context.close()
        finally:
            browser.close()
    return run


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)")
    missing = missing_assets()
    if missing:
        pytest.fail(f"GraphiQL assets missing ({missing[0]}): run `make assets`")
    return CHROMIUM


def test_graphiql_runs_a_discovery_query_offline(
    live: LiveStack, chromium: Path, tmp_path: Path
) -> None:
    bearer = f"Bearer {live.token('u0042')}"
    run = run_graphiql(live.graphql_url, tmp_path, headers={"Authorization": bearer})

    assert run.foreign == [], f"the page reached beyond loopback: {run.foreign}"
    assert all(_is_local(url) for url in run.requests), run.requests
    assert any(url.endswith("/graphiql/assets/graphiql.min.js") for url in run.requests)
    assert sum(url == live.graphql_url for url in run.requests) >= 2  # introspection + query

    body = json.loads(run.result)
    assert not body.get("errors"), body.get("errors")
    sections = body["data"]["discovery"]["sections"]
    titles = [section["title"] for section in sections]
    assert "For you" in titles, titles
    assert all(section["__typename"] for section in sections)
    assert not [e for e in run.console_errors if "graphiql" in e.lower()], run.console_errors


# ------------------------------------------------------------------ without the live stack
# The page and the asset mount on a throwaway app: these pin GraphiQL down even when the
# gateway itself cannot start, and run in seconds.

CANNED = {
    "data": {
        "discovery": {
            "requestId": "canned",
            "degraded": False,
            "sections": [
                {"__typename": "VenueCarousel", "id": "s1", "title": "For you", "source": "POPULAR"}
            ],
        }
    }
}


def _page_app() -> FastAPI:
    from schema import build_schema

    schema = build_schema([])
    app = FastAPI()
    mount_graphiql_assets(app)
    seen: list[dict[str, Any]] = []
    app.state.seen = seen

    @app.get("/graphql")
    async def ide() -> HTMLResponse:
        return HTMLResponse(graphiql_html())

    @app.post("/graphql")
    async def execute(request: Request) -> JSONResponse:
        body = await request.json()
        seen.append({"query": body["query"], "auth": request.headers.get("authorization")})
        if "__schema" in body["query"]:  # introspection: the real schema, no resolvers run
            result = await schema.execute(body["query"], variable_values=body.get("variables"))
            assert not result.errors, result.errors
            return JSONResponse({"data": result.data})
        return JSONResponse(CANNED)

    return app


@pytest.fixture(scope="module")
def page_server() -> Iterator[tuple[str, Any]]:
    import uvicorn

    from tests.live import free_port

    app = _page_app()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "throwaway server did not start"
        assert thread.is_alive(), "throwaway server died"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/graphql", app
    finally:
        server.should_exit = True
        thread.join(10)


def test_graphiql_page_renders_and_runs_offline_without_the_gateway(
    page_server: tuple[str, Any], chromium: Path, tmp_path: Path
) -> None:
    url, app = page_server
    run = run_graphiql(
        url, tmp_path, headers={"Authorization": "Bearer t0k3n"}, query=None, expect=("For you",)
    )
    assert run.foreign == [], run.foreign
    assert all(_is_local(u) for u in run.requests), run.requests
    served = {u.rsplit("/", 1)[-1] for u in run.requests if "/graphiql/assets/" in u}
    assert served == set(ASSETS)
    assert "discovery(location:" in run.default_query  # the page's own default query ran
    executed = [s for s in app.state.seen if "__schema" not in s["query"]]
    assert executed, app.state.seen
    assert executed[-1]["auth"] == "Bearer t0k3n"  # the headers editor reached the request
    assert "discovery" in executed[-1]["query"]
    assert not run.console_errors, run.console_errors


def test_assets_are_allow_listed() -> None:
    if missing_assets():
        pytest.fail("GraphiQL assets missing: run `make assets`")
    app = FastAPI()
    mount_graphiql_assets(app)
    with TestClient(app) as client:
        for name in ASSETS:
            response = client.get(f"/graphiql/assets/{name}")
            assert response.status_code == 200, name
            assert response.headers["content-type"].startswith(("text/javascript", "text/css"))
        for other in (
            "graphiql/package.json",
            "graphiql/graphiql.min.js",  # the real path inside node_modules is not exposed
            "graphiql.min.js.map",
            "react/umd/react.development.js",
            "../package.json",
            "%2e%2e/package-lock.json",
            "",
        ):
            assert client.get(f"/graphiql/assets/{other}").status_code == 404, other


def test_page_references_only_local_assets() -> None:
    page = graphiql_html()
    assert "run make assets" not in page
    urls = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sorted(urls) == sorted(f"/graphiql/assets/{name}" for name in ASSETS)
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", page), "external URL in page"
    assert "isHeadersEditorEnabled: true" in page
    custom = graphiql_html("/api/</script><b>", "/static/gq/")
    assert "</script><b>" not in custom  # endpoint is JSON-escaped inside the script
    assert 'src="/static/gq/graphiql.min.js"' in custom


def test_missing_assets_page_and_strict_mount(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(graphiql, "NODE_MODULES", tmp_path / "node_modules")
    page = graphiql_html()
    assert "make assets" in page
    assert "<script" not in page
    with pytest.raises(graphiql.GraphiQLAssetsMissingError, match="make assets"):
        mount_graphiql_assets(FastAPI(), strict=True)
    app = FastAPI()
    mount_graphiql_assets(app)  # lenient: warns, and the files answer 404
    with TestClient(app) as client:
        response = client.get("/graphiql/assets/graphiql.min.js")
        assert response.status_code == 404
        assert "make assets" in response.text
