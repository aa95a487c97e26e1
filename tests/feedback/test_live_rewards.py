"""End to end: rewards reach the real reference bandit exactly once when the bandit is
killed, events are sent, the gateway crashes (SIGKILL) and restarts on the same SQLite
outbox, and the bandit comes back (restarted on its port, replaying its journal).

The session's reference backends are used; this test runs its own gateway processes.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.chaos import BackendProcesses
from tests.live import ROOT, SECRET, LiveStack, free_port, wait_healthy

pytestmark = pytest.mark.e2e

HELSINKI = {"lat": 60.1699, "lon": 24.9384}
USER = "u4777"
BANNERS = "query($loc: LocationInput!) { discovery(location: $loc) { sections { id trackingId "
BANNERS += "... on BannerCarousel { banners { id } } } } }"
RECORD = "mutation($events: [EventInput!]!) { recordEvents(events: $events) { accepted "
RECORD += "results { reason } } }"


class GatewayProcess:
    def __init__(self, live: LiveStack, tmp: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "PGW_ENVIRONMENT": "test",
            "PGW_RATE_LIMIT_ENABLED": "false",
            "PGW_JWT_SECRET": SECRET,
            "PGW_EVENTS_OUTBOX_PATH": str(tmp / "outbox.sqlite3"),
            "PGW_DECISION_LOG_PATH": str(tmp / "decisions.jsonl"),
            "PGW_REWARDS_BACKOFF_INITIAL_S": "0.05",
            "PGW_REWARDS_BACKOFF_MAX_S": "0.3",
            "PGW_REWARDS_LEASE_S": "1",
            "PGW_BANDIT__BREAKER__OPEN_S": "0.2",
            **{f"PGW_{n.upper()}__BASE_URL": u for n, u in live.backend_urls.items()},
        }
        log = (tmp / f"gateway-{self.port}.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--port", str(self.port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        wait_healthy(f"{self.url}/readyz", 60, self.proc)

    def post(self, query: str, variables: dict[str, object], live: LiveStack) -> dict:  # type: ignore[type-arg]
        response = httpx.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {live.token(USER)}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        return dict(body["data"])

    def kill(self) -> None:
        self.proc.kill()  # a crash, not a graceful stop
        self.proc.wait(timeout=10)


@pytest.fixture
def bandit_process(live: LiveStack, tmp_path: Path) -> Iterator[BackendProcesses]:
    processes = BackendProcesses(live, tmp_path)
    yield processes
    processes.start("bandit")  # whatever happened, the shared stack gets its bandit back


def _user_successes(live: LiveStack, arms: list[str]) -> dict[str, float]:
    stats = httpx.get(
        f"{live.backend_urls['bandit']}/v1/stats",
        params={"decision_point": "discovery.banners", "user_id": USER},
        timeout=5,
    ).json()["arms"]
    return {a: stats.get(a, {}).get("viewer", {}).get("successes", 0.0) for a in arms}


def test_rewards_are_counted_once_across_an_outage_and_a_gateway_crash(
    live: LiveStack, tmp_path: Path, bandit_process: BackendProcesses
) -> None:
    first = GatewayProcess(live, tmp_path)
    try:
        page = first.post(BANNERS, {"loc": HELSINKI}, live)["discovery"]
        [banners] = [s for s in page["sections"] if s["id"] == "banners"]
        arms = [b["id"] for b in banners["banners"][:2]]
        assert len(arms) == 2
        before = _user_successes(live, arms)
        bandit_process.stop("bandit")  # the bandit is down: connections are refused
        events = [
            {"kind": "CLICK", "trackingId": banners["trackingId"], "entityId": a} for a in arms
        ]
        result = first.post(RECORD, {"events": events}, live)["recordEvents"]
        assert result["accepted"] == 2, result
    finally:
        first.kill()
    second = GatewayProcess(live, tmp_path)
    try:
        bandit_process.start("bandit")  # back, with its journal replayed
        want = {a: before[a] + 1 for a in arms}
        deadline = time.monotonic() + 30
        while _user_successes(live, arms) != want and time.monotonic() < deadline:
            time.sleep(0.1)  # polling another process's state, bounded
        assert _user_successes(live, arms) == want
        # the client resends the same batch: accepted again, counted no more
        again = second.post(RECORD, {"events": events}, live)["recordEvents"]
        assert again["accepted"] == 2
        conn = sqlite3.connect(tmp_path / "outbox.sqlite3")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pending = conn.execute("SELECT count(*) FROM outbox WHERE status='pending'").fetchone()
            if pending[0] == 0:
                break
            time.sleep(0.05)
        dead = conn.execute("SELECT count(*) FROM outbox WHERE status='dead'").fetchone()[0]
        conn.close()
        assert dead == 0
        assert _user_successes(live, arms) == want
    finally:
        second.kill()
