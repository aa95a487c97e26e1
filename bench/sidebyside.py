"""Processes measured side by side in one run: another checkout's gateway and the anchor.

A figure remembered from another day is not comparable on a shared two-core machine; a
ratio measured in the same minute is. These helpers start, on the backends of one
``tests.live.live_stack``:

- ``checkout_gateway``: the gateway of another checkout (a ``git worktree`` of the commit an
  issue starts from, with its own ``.venv``), with the same settings as this one;
- ``anchor``: the plain-FastAPI anchor (``bench.anchor``) answering a recorded page;

and measure a process's CPU per request (``cpu_ms_per_request``: ``utime + stime`` from
``/proc`` around a sequential keep-alive loop). Everything measured is pinned to CPU 0 when
the machine has two cores (``bench.load.pin``), like ``make bench``.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

from bench.load import can_pin, cpu_seconds, pin
from tests.live import ROOT, LiveStack, free_port, wait_healthy

MEASURED_CPU = 0


def gateway_env(
    stack: LiveStack, log_dir: Path, name: str, extra: dict[str, str]
) -> dict[str, str]:
    """The settings ``live_stack`` gives its gateway, for one more gateway named ``name``."""
    return {
        **stack.backend_env,
        "PGW_ENVIRONMENT": "test",
        "PGW_JWT_SECRET": stack.secret,
        "PGW_RATE_LIMIT_ENABLED": "false",
        "PGW_DECISION_LOG_PATH": str(log_dir / f"decisions-{name}.jsonl"),
        "PGW_EVENTS_OUTBOX_PATH": str(log_dir / f"outbox-{name}.sqlite3"),
        **{f"PGW_{b.upper()}__BASE_URL": url for b, url in stack.backend_urls.items()},
        **extra,
    }


def _started(
    args: list[str], env: dict[str, str], cwd: Path, log: Path, health: str
) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    handle = log.open("wb")
    proc = subprocess.Popen(
        [*args, "--port", str(port)], env=env, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    wait_healthy(f"{url}{health}", 90, proc)
    if can_pin():
        pin(proc.pid, MEASURED_CPU)
    return url, proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@contextlib.contextmanager
def checkout_gateway(
    root: Path, stack: LiveStack, log_dir: Path, name: str, extra: dict[str, str]
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The gateway of the checkout at ``root`` (its own ``.venv``) on ``stack``'s backends."""
    python = root / ".venv" / "bin" / "python"
    env = gateway_env(stack, log_dir, name, extra)
    url, proc = _started(
        [str(python), "-m", "gateway", "serve"],
        env,
        root,
        log_dir / f"gateway-{name}.log",
        "/readyz",
    )
    try:
        yield url, proc
    finally:
        _stop(proc)


@contextlib.contextmanager
def anchor(
    page_json: bytes, secret: str, log_dir: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The plain-FastAPI anchor answering ``page_json`` (a recorded gateway answer)."""
    page = log_dir / "anchor-page.json"
    page.write_bytes(page_json)
    url, proc = _started(
        [sys.executable, "-m", "bench.anchor", "--page", str(page), "--secret", secret],
        {"PYTHONUNBUFFERED": "1", "PATH": "/usr/bin:/bin"},
        ROOT,
        log_dir / "anchor.log",
        "/healthz",
    )
    try:
        yield url, proc
    finally:
        _stop(proc)


def cpu_ms_per_request(
    client: httpx.Client,
    url: str,
    pid: int,
    requests: Sequence[tuple[bytes, dict[str, str]]],
) -> float:
    """The process's CPU ms per request over ``requests`` sent one at a time; every answer
    must be a 200 without GraphQL errors (a failed page is not a cheap page)."""
    before = cpu_seconds(pid)
    for body, headers in requests:
        response = client.post(url, content=body, headers=headers)
        if response.status_code != 200 or b'"errors"' in response.content[:20_000]:
            raise SystemExit(f"{url}: {response.status_code} {response.text[:300]}")
    return (cpu_seconds(pid) - before) / len(requests) * 1000
