"""Running the Node tooling of ``tests/node`` (installed by ``npm ci`` from the Makefile)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

NODE_DIR = Path(__file__).resolve().parent / "node"


def node() -> str:
    """The ``node`` binary; the suite needs it (as it needs npm for ``make setup``)."""
    found = shutil.which("node")
    assert found, "node is not installed (Debian: apt-get install nodejs npm)"
    assert (NODE_DIR / "node_modules" / ".package-lock.json").exists(), (
        "tests/node/node_modules is missing: run `make setup` (npm ci in tests/node)"
    )
    return found


def run_json(script: str, *args: str, timeout_s: float = 60.0) -> tuple[int, dict[str, Any]]:
    """Run ``tests/node/<script>`` and parse the JSON line it prints last."""
    done = subprocess.run(
        [node(), str(NODE_DIR / script), *args],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"{script} printed no JSON; stderr:\n{done.stderr[-3000:]}"
    return done.returncode, json.loads(lines[-1])
