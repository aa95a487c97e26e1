"""A real federation router (Hive Gateway, from the npm registry) over a supergraph of the
gateway's subgraph and the reviews subgraph, with a query that crosses both (decision 0020).

The router forwards the viewer's token, ``X-Request-Timeout-Ms`` and ``traceparent``
(``tests/node/gateway.config.mjs``); the gateway must see each of them as if the client had
called it directly.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from backends.reviews.app import summary_of
from tests.live import ROOT, LiveStack, _stop, free_port, wait_healthy
from tests.node_tools import NODE_DIR, node, run_json

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

CROSSING = """
query Crossing($loc: LocationInput!) {
  discovery(location: $loc) {
    requestId
    degraded
    sections {
      id
      source
      ... on VenueCarousel { venues { id name reviews { count average headline } } }
    }
  }
}
"""
HELSINKI = {"lat": 60.1699, "lon": 24.9384}
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@contextlib.contextmanager
def _process(args: list[str], log: Path, health: str, cwd: Path = ROOT) -> Iterator[None]:
    handle = log.open("wb")
    proc = subprocess.Popen(
        args, cwd=cwd, env={**os.environ}, stdout=handle, stderr=subprocess.STDOUT
    )
    try:
        wait_healthy(health, 60, proc)
        yield
    finally:
        _stop([proc])
        handle.close()


@pytest.fixture(scope="module")
def supergraph(
    live: LiveStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """The router's URL, with the gateway's and the reviews subgraph's behind it."""
    work = tmp_path_factory.mktemp("supergraph")
    gateway_log = work / "gateway.log"
    env = {"PGW_FEDERATION": "true", "PGW_PAGE_CACHE_TTL_S": "0", "PGW_RATE_LIMIT_ENABLED": "false"}
    reviews_port, router_port = free_port(), free_port()
    reviews_url = f"http://127.0.0.1:{reviews_port}"
    with (
        live.another_gateway(gateway_log, env) as (gateway_url, _),
        _process(
            [sys.executable, "-m", "backends.reviews", "--port", str(reviews_port)],
            work / "reviews.log",
            f"{reviews_url}/healthz",
        ),
    ):
        # composed from the live subgraphs' own `_service { sdl }`, as a schema registry would
        code, composed = run_json(
            "compose.mjs",
            f"pgw={gateway_url}/subgraph",
            f"reviews={reviews_url}/graphql",
            "--out",
            str(work / "supergraph.graphql"),
        )
        assert code == 0, composed
        router_url = f"http://127.0.0.1:{router_port}"
        with _process(
            [
                node(),
                str(NODE_DIR / "node_modules/@graphql-hive/gateway/dist/bin.js"),
                "supergraph",
                str(work / "supergraph.graphql"),
                "--config-path",
                str(NODE_DIR / "gateway.config.mjs"),
                "--host",
                "127.0.0.1",
                "--port",
                str(router_port),
            ],
            work / "router.log",
            f"{router_url}/healthcheck",
            cwd=NODE_DIR,
        ):
            yield {
                "router": f"{router_url}/graphql",
                "reviews": reviews_url,
                "gateway_log": gateway_log,
            }


def _ask(
    supergraph: dict[str, Any], live: LiveStack, *, user: str | None, **headers: str
) -> httpx.Response:
    if user is not None:
        headers["Authorization"] = f"Bearer {live.token(user)}"
    return httpx.post(
        supergraph["router"],
        json={"query": CROSSING, "variables": {"loc": HELSINKI}},
        headers=headers,
        timeout=30,
    )


def _access_lines(log: Path) -> list[dict[str, Any]]:
    lines = []
    for line in log.read_text(encoding="utf-8").splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("event") == "graphql":
                lines.append(record)
    return lines


def test_a_query_crossing_both_subgraphs_with_token_deadline_and_trace(
    supergraph: dict[str, Any], live: LiveStack
) -> None:
    # a first page warms the gateway's caches (catalog, candidates, ranking): on a loaded
    # machine a cold page can spend its 300 ms budget and fall back, which is not the point
    _ask(supergraph, live, user="u-federation")
    response = _ask(
        supergraph,
        live,
        user="u-federation",
        traceparent=TRACEPARENT,
        **{"X-Request-Timeout-Ms": "5000"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    page = body["data"]["discovery"]
    venues = [v for s in page["sections"] for v in s.get("venues", [])]
    assert venues, page
    for venue in venues:  # fields of the gateway and of the reviews subgraph, side by side
        expected = summary_of(venue["id"])
        assert venue["name"]
        assert venue["reviews"] == {
            "count": expected.count,
            "average": expected.average,
            "headline": expected.headline,
        }

    # the gateway saw the viewer and the trace the client sent to the router
    line = next(
        r for r in _access_lines(supergraph["gateway_log"]) if r["request_id"] == page["requestId"]
    )
    assert line["trace_id"] == TRACE_ID
    assert line["viewer"] is not None  # a verified viewer, not an anonymous page
    # and so did the second subgraph
    seen = httpx.get(f"{supergraph['reviews']}/_last_headers", timeout=5).json()
    assert seen["traceparent"] == TRACEPARENT
    assert seen["authorization"].startswith("Bearer ")
    assert seen["x-request-timeout-ms"] == "5000"


def test_the_deadline_passes_through_the_router(
    supergraph: dict[str, Any], live: LiveStack
) -> None:
    """A deadline already spent: every section falls back, and the page says so (a viewer
    of their own, so that no cached answer hides the deadline)."""
    hurried = _ask(supergraph, live, user="u-federation-hurried", **{"X-Request-Timeout-Ms": "0"})
    body = hurried.json()
    assert "errors" not in body, body
    assert body["data"]["discovery"]["degraded"] is True
    assert all(s["source"] != "PERSONALISED" for s in body["data"]["discovery"]["sections"])


def test_a_bad_token_is_refused_through_the_router(
    supergraph: dict[str, Any], live: LiveStack
) -> None:
    refused = _ask(supergraph, live, user=None, Authorization="Bearer not-a-token")
    body = refused.json()
    assert body.get("data") in (None, {"discovery": None}), body  # no page for a bad token
    assert body["errors"], body
