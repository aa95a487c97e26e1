"""Safe by default: production serves no GraphiQL, no introspection, no debug time travel,
and ``/metrics`` can leave the API port for its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.gateway.conftest import DISCOVERY, HELSINKI, GatewayFactory
from tests.live import ROOT, free_port, wait_healthy

HTML = {"Accept": "text/html"}
PRODUCTION = {"environment": "production", "debug": False, "tracking_key": "t" * 40}

#: starting a real server on a loaded 2-core machine takes up to a minute or more
pytestmark = pytest.mark.timeout(400)


async def test_production_serves_no_graphiql(make_gateway: GatewayFactory) -> None:
    async with make_gateway(**PRODUCTION) as gw:
        page = await gw.client.get("/graphql", headers=HTML)
        assert page.status_code == 404
        assert page.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        assert "graphiql" not in page.text.lower()
        assert (await gw.client.get("/graphiql/assets/graphiql.min.js")).status_code == 404
    async with make_gateway(**PRODUCTION, graphiql=True) as gw:
        assert (await gw.client.get("/graphql", headers=HTML)).status_code == 200
    async with make_gateway(environment="development") as gw:
        page = await gw.client.get("/graphql", headers=HTML)
        assert page.status_code == 200
        assert "graphiql" in page.text.lower()


async def test_production_ignores_the_debug_clock_and_refuses_introspection(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway(**PRODUCTION) as gw:
        body = (
            await gw.query(
                DISCOVERY,
                {"loc": HELSINKI},
                headers={"X-Debug-Local-Time": "2020-01-01T03:00:00+02:00"},
            )
        ).json()
        assert "errors" not in body
        assert "debug" not in body.get("extensions", {})
        errors = (await gw.query("{ __schema { queryType { name } } }")).json()["errors"]
        assert errors[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_metrics_leave_the_api_port_when_a_metrics_port_is_set(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway(metrics_port=free_port()) as gw:
        assert (await gw.client.get("/metrics")).status_code == 404
    async with make_gateway() as gw:
        assert (await gw.client.get("/metrics")).status_code == 200


def test_serve_exposes_metrics_on_their_own_port(tmp_path: Path) -> None:
    port, metrics_port = free_port(), free_port()
    env = {
        **os.environ,
        "PGW_ENVIRONMENT": "production",
        "PGW_JWT_SECRET": "metrics-port-test-secret-0123456789abcdef",
        "PGW_TRACKING_KEY": "metrics-port-test-tracking-key-0123456789",
        "PGW_METRICS_PORT": str(metrics_port),
        "PGW_DECISION_LOG_PATH": str(tmp_path / "decisions.jsonl"),
        "PGW_EVENTS_OUTBOX_PATH": str(tmp_path / "outbox.sqlite3"),
        "PGW_REFERENCE_REFRESH_S": "3600",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = (tmp_path / "gateway.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", str(port), "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}/healthz", 180, server)
        for _ in range(4):
            httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": "{ __typename }"})
        assert httpx.get(f"http://127.0.0.1:{port}/metrics").status_code == 404
        scrape = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10)
        assert scrape.status_code == 200
        # both workers' counts, aggregated through the multiprocess directory
        assert "pgw_graphql_requests_total{" in scrape.text
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
