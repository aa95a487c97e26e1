"""With several uvicorn workers, /metrics still counts every request exactly once.

Nothing configures multiprocess mode: with more than one worker the gateway makes the
directory itself (under TMPDIR) and removes it when it stops (gateway/serve.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.live import ROOT, free_port, wait_healthy

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]

BAD = {
    "query": 'query Bad { category(slug: "nope", location: {lat: 60.17, lon: 24.94}) { degraded } }'
}


def _count(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (
                sample.name == "pgw_graphql_requests_total"
                and sample.labels.get("operation") == "other"
            ):
                return float(sample.value)
    return 0.0


def test_two_workers_report_one_aggregated_count(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"},
        "TMPDIR": str(tmp_path),
        "PGW_DECISION_LOG_PATH": str(tmp_path / "decisions.jsonl"),
        "PGW_EVENTS_OUTBOX_PATH": str(tmp_path / "outbox.sqlite3"),
        "PGW_ENVIRONMENT": "test",
        "PGW_REFERENCE_REFRESH_S": "3600",
    }
    log = (tmp_path / "gateway.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(f"{url}/healthz", 180, proc)
        close = {"Connection": "close"}  # a fresh connection each time: any worker may accept
        for _ in range(40):
            assert httpx.post(f"{url}/graphql", json=BAD, headers=close).status_code == 200
        # whichever worker answers the scrape, it reports all workers' requests
        counts = {_count(httpx.get(f"{url}/metrics", headers=close).text) for _ in range(8)}
        assert counts == {40.0}
        assert len(list(tmp_path.glob("pgw-metrics-*/counter_*.db"))) == 2, "both served"
    finally:
        proc.terminate()
        status = proc.wait(timeout=30)
    assert status == 0
    assert not list(tmp_path.glob("pgw-metrics-*")), "the gateway removes its directory"
