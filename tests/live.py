"""Starting the real system for end-to-end tests: five backend servers and the gateway,
each its own process on a free loopback port, talking real HTTP."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from clients.contracts.ports import BACKEND_NAMES
from gateway.auth import mint_token

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = BACKEND_NAMES
SECRET = "e2e-test-secret-not-for-production-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, timeout_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"process for {url} exited with {proc.returncode}")
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
    raise RuntimeError(f"{url} not healthy within {timeout_s}s")


@dataclass
class LiveStack:
    """URLs of the running system, and helpers to talk to it."""

    gateway_url: str
    backend_urls: dict[str, str]
    secret: str = SECRET
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    backend_env: dict[str, str] = field(default_factory=dict)

    @property
    def graphql_url(self) -> str:
        return f"{self.gateway_url}/graphql"

    def token(self, user_id: str) -> str:
        return mint_token(user_id, self.secret)

    def query(
        self,
        query: str,
        variables: dict[str, object] | None = None,
        *,
        user: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
    ) -> httpx.Response:
        all_headers = dict(headers or {})
        if user:
            all_headers["Authorization"] = f"Bearer {self.token(user)}"
        return httpx.post(
            self.graphql_url,
            json={"query": query, "variables": variables or {}},
            headers=all_headers,
            timeout=timeout,
        )

    def set_fault(self, backend: str, **fault: object) -> None:
        httpx.put(f"{self.backend_urls[backend]}/_faults", json=fault, timeout=5).raise_for_status()

    def clear_faults(self) -> None:
        for url in self.backend_urls.values():
            httpx.delete(f"{url}/_faults", timeout=5).raise_for_status()

    @contextlib.contextmanager
    def another_gateway(
        self, log: Path, env: Mapping[str, str] | None = None
    ) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
        """One more gateway process on these backends (a baseline, a twin with other
        settings): its URL and process, stopped on exit. ``env`` adds ``PGW_*`` settings."""
        port = free_port()
        gateway_env = {
            **self.backend_env,
            "PGW_ENVIRONMENT": "test",
            "PGW_JWT_SECRET": self.secret,
            **{f"PGW_{name.upper()}__BASE_URL": url for name, url in self.backend_urls.items()},
            **(env or {}),
        }
        proc = _spawn(
            [sys.executable, "-m", "gateway", "serve", "--port", str(port)], gateway_env, log
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_healthy(f"{url}/readyz", 60, proc)
            yield url, proc
        finally:
            _stop([proc])


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen(args, env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT)


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM (a graceful shutdown) for all, then SIGKILL for any still up after 10 s."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.contextmanager
def live_stack(log_dir: Path, extra_env: dict[str, str] | None = None) -> Iterator[LiveStack]:
    """Start the backends and a gateway; stop them all on exit."""
    # the bandit journals its decisions and rewards, so a restarted bandit keeps them
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "PGW_BANDIT_JOURNAL": str(log_dir / "bandit-journal.jsonl"),
    }
    ports = {name: free_port() for name in BACKENDS}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for name, port in ports.items():
            procs.append(
                _spawn(
                    [sys.executable, "-m", "backends", "serve", name, "--port", str(port)],
                    env,
                    log_dir / f"{name}.log",
                )
            )
        for proc, url in zip(procs, urls.values(), strict=True):
            wait_healthy(f"{url}/healthz", 120, proc)
        gateway_port = free_port()
        gateway_env = {
            **env,
            "PGW_ENVIRONMENT": "test",
            "PGW_DEBUG": "true",
            "PGW_INTROSPECTION": "true",
            # load-driving tests (fuzzing, chaos, evaluation) would spend the per-viewer
            # budget; rate limiting has its own tests
            "PGW_RATE_LIMIT_ENABLED": "false",
            # end-to-end tests inject faults between one viewer's requests and expect to see
            # them at once; the benchmark turns the page cache back on (bench/load.py)
            "PGW_PAGE_CACHE_TTL_S": "0",
            "PGW_DECISION_LOG_PATH": str(log_dir / "decisions.jsonl"),
            "PGW_EVENTS_OUTBOX_PATH": str(log_dir / "outbox.sqlite3"),
            "PGW_JWT_SECRET": SECRET,
            **{f"PGW_{name.upper()}__BASE_URL": url for name, url in urls.items()},
            **(extra_env or {}),
        }
        gateway = _spawn(
            [sys.executable, "-m", "gateway", "serve", "--port", str(gateway_port)],
            gateway_env,
            log_dir / "gateway.log",
        )
        procs.append(gateway)
        gateway_url = f"http://127.0.0.1:{gateway_port}"
        wait_healthy(f"{gateway_url}/readyz", 60, gateway)
        yield LiveStack(gateway_url=gateway_url, backend_urls=urls, procs=procs, backend_env=env)
    finally:
        _stop(procs)
