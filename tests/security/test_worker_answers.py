"""The worker never stops answering: while the slowest documents of every hostile class are
validated, ``/healthz`` on the same (single) worker still answers, over real HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.live import ROOT, free_port, wait_healthy
from tests.security.hostile import (
    FRAGMENT_SELF_CYCLE,
    deep_nesting,
    directive_overload,
    fan_out_chain,
    field_duplication,
    fragment_cycle,
    many_spreads,
    root_fields_through_inline_fragment,
)

#: The slowest document of each class that still fits the default token limit (1000).
SLOWEST = [
    FRAGMENT_SELF_CYCLE,
    fragment_cycle(90),
    fan_out_chain(80),
    field_duplication(240),
    many_spreads(140),
    deep_nesting(190),
    directive_overload(900),
    root_fields_through_inline_fragment(90),
]
CODED = {"GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED", "QUERY_TOO_COMPLEX"}

#: starting a real server on a loaded 2-core machine takes up to a minute or more
pytestmark = pytest.mark.timeout(400)


def _attack(url: str, stop: threading.Event, outcomes: list[tuple[int, str]]) -> None:
    with httpx.Client(timeout=30) as client:
        while not stop.is_set():
            for document in SLOWEST:
                response = client.post(url, json={"query": document})
                codes = {e["extensions"]["code"] for e in response.json().get("errors", [])}
                outcomes.append((response.status_code, ",".join(sorted(codes))))


def test_healthz_answers_while_hostile_documents_are_validated(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PGW_ENVIRONMENT": "test",
        "PGW_JWT_SECRET": "worker-answers-test-secret-0123456789abcdef",
        "PGW_DECISION_LOG_PATH": str(tmp_path / "decisions.jsonl"),
        "PGW_EVENTS_OUTBOX_PATH": str(tmp_path / "outbox.sqlite3"),
        "PGW_REFERENCE_REFRESH_S": "3600",
        "PGW_RATE_LIMIT_ENABLED": "false",
    }
    log = (tmp_path / "gateway.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", str(port), "--workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(f"{base}/healthz", 180, server)
        stop = threading.Event()
        outcomes: list[tuple[int, str]] = []
        attackers = [
            threading.Thread(target=_attack, args=(f"{base}/graphql", stop, outcomes))
            for _ in range(4)
        ]
        for attacker in attackers:
            attacker.start()
        latencies: list[float] = []
        try:
            with httpx.Client(timeout=10) as client:
                while len(outcomes) < 3 * len(SLOWEST) or len(latencies) < 20:
                    started = time.monotonic()
                    assert client.get(f"{base}/healthz").status_code == 200
                    latencies.append(time.monotonic() - started)
                    time.sleep(0.05)
        finally:
            stop.set()
            for attacker in attackers:
                attacker.join(timeout=60)
        # each hostile document costs milliseconds; before the fix the first one never ended
        assert max(latencies) < 2.5, sorted(latencies)[-5:]
        for status, codes in outcomes:
            assert status in (200, 400), (status, codes)
            assert codes, status
            assert set(codes.split(",")) <= CODED, codes
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
