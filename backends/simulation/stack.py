"""A gateway and the five reference backends on free ports, for one simulated policy.

The bandit runs with ``PGW_BANDIT_POLICY`` set to the policy under test; the gateway with
its production defaults (page cache, decision cache, rate limits, the SQLite outbox) except
for a decision log in ``log_dir`` and a known JWT secret, so the simulator can sign in as
its viewers.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from backends.config import BACKEND_NAMES, PROJECT_ROOT
from backends.stack import BackendStack, free_port

SECRET = "simulation-secret-not-for-production-0123456789"


@dataclass(frozen=True, slots=True)
class Stack:
    gateway_url: str
    bandit_url: str
    decision_log: Path


def _wait(url: str, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gateway exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {timeout_s}s")


@contextlib.contextmanager
def running(policy: str, seed: int, log_dir: Path) -> Iterator[Stack]:
    log_dir.mkdir(parents=True, exist_ok=True)
    ports = {name: free_port() for name in BACKEND_NAMES}
    backend_env = {"PGW_BANDIT_POLICY": policy, "PGW_BANDIT_SEED": str(seed)}
    with BackendStack(ports, log_dir=log_dir, env=backend_env) as backends:
        backends.wait_ready_sync(timeout=300)
        port = free_port()
        decisions = log_dir / "decisions.jsonl"
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "PGW_ENVIRONMENT": "test",
            "PGW_JWT_SECRET": SECRET,
            "PGW_DECISION_LOG_PATH": str(decisions),
            "PGW_EVENTS_OUTBOX_PATH": str(log_dir / "outbox.sqlite3"),
            # the simulation measures learning, not latency: on a loaded machine the
            # production 150 ms would turn decisions into fallbacks (reported as such)
            "PGW_BANDIT__TIMEOUT_S": "1.0",
            **{f"PGW_{name.upper()}__BASE_URL": url for name, url in backends.urls.items()},
        }
        env.pop("PGW_REDIS_URL", None)
        with (log_dir / "gateway.log").open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "gateway", "serve", "--port", str(port)],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            try:
                url = f"http://127.0.0.1:{port}"
                _wait(f"{url}/readyz", proc, 300)
                yield Stack(url, backends.urls["bandit"], decisions)
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
