"""`make demo` stops its five backends on SIGTERM too (docker stop, systemd, `timeout`).

uvicorn handles SIGTERM itself while serving, then raises the signal again after its graceful
shutdown; with the default handler the demo process died right there and left the reference
backends running on their ports.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clients.contracts.ports import REFERENCE_PORTS as DEMO_PORTS
from tests.live import ROOT, free_port, wait_healthy


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_sigterm_stops_the_gateway_and_every_backend(tmp_path: Path) -> None:
    busy = [p for p in DEMO_PORTS.values() if _listening(p)]
    if busy:
        pytest.skip(f"demo ports in use on this machine: {busy}")
    port = free_port()
    log = (tmp_path / "demo.log").open("wb")
    env = {**os.environ, "PGW_BANDIT_JOURNAL": str(tmp_path / "journal.jsonl")}
    demo = subprocess.Popen(
        [sys.executable, "-m", "gateway", "demo", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}/readyz", 120, demo)
        assert all(_listening(p) for p in DEMO_PORTS.values())
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=30) == 128 + signal.SIGTERM
        # the demo waits for its backends to exit before it does, so they are gone now
        deadline = time.monotonic() + 5
        while (still := [p for p in DEMO_PORTS.values() if _listening(p)]) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.1)
        assert not still, f"backends still listening after SIGTERM: {still}"
    finally:
        if demo.poll() is None:
            demo.kill()
        log.close()
