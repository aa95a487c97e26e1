"""GraphiQL in a real browser: the page loads from the gateway alone and runs a query.

Debian's Chromium (``make browser`` installs it) is driven through the ``playwright``
package; ``playwright install`` is never needed. Every request the page makes is recorded
(and anything not for loopback is aborted): the IDE must work with no internet.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from gateway.graphiql import missing_assets
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
    expect: tuple[str, ...] = ('"sections"', "For you"),
    timeout_ms: float = 30_000,
    screenshot_always: bool = False,
) -> BrowserRun:
    """Open GraphiQL at ``graphql_url``, run :data:`QUERY` with ``headers``, return the run.

    A screenshot (``graphiql-failure.png``) and the page's HTML land in ``shots`` on failure.
    """
    from playwright.sync_api import Request, Route, sync_playwright

    run = BrowserRun()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(service_workers="block")

            def guard(route: Route, request: Request) -> None:
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
                page.evaluate(SET_EDITOR, [QUERY_EDITOR, QUERY])
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
            except Exception:
                shots.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shots / "graphiql-failure.png"), full_page=True)
                (shots / "graphiql-failure.html").write_text(page.content(), encoding="utf-8")
                with contextlib.suppress(Exception):
                    run.result = page.evaluate(RESULT_TEXT)
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
