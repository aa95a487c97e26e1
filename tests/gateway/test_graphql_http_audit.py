"""The graphql-http conformance audit (npm ``graphql-http``, its ``auditServer``) against a
real gateway over real HTTP: every audit passes, none warns (decision 0019).

The audit runs in Node (``tests/node/``, installed by ``make setup`` with ``npm ci``); the
gateway runs in a uvicorn thread over the fake backends (the audit's documents are
``{ __typename }``-sized: no page is built).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gateway.app import create_app
from tests.fakes import FakeBackends
from tests.gateway.conftest import gateway_settings
from tests.live import free_port
from tests.node_tools import NODE_DIR, node

AUDIT = NODE_DIR / "graphql-http-audit.mjs"


#: The audits whose documents ask ``__type`` (introspection): with introspection off (the
#: production default) the gateway refuses them by policy, with a validation error.
INTROSPECTING = {"2EA1", "28B9", "D6D5", "6A70"}


@contextlib.contextmanager
def serving(tmp_path: Path, *, introspection: bool) -> Iterator[str]:
    """A gateway over the fake backends on a free port, served by uvicorn in a thread."""
    import uvicorn

    fakes = FakeBackends()
    settings = gateway_settings(
        tmp_path, fakes, rate_limit_enabled=False, introspection=introspection
    )
    app = create_app(settings, transports=fakes.transports)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the gateway did not start"
        assert thread.is_alive(), "the gateway's server thread died"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/graphql"
    finally:
        server.should_exit = True
        thread.join(15)


def audit(url: str) -> list[dict[str, Any]]:
    """Every audit's result: ``{id, name, status, reason}``, status ok/notice/warn/error."""
    done = subprocess.run(
        [node(), str(AUDIT), url], capture_output=True, text=True, timeout=90, check=False
    )
    assert done.returncode == 0, done.stderr
    results: list[dict[str, Any]] = json.loads(done.stdout)
    assert len(results) > 40  # the whole audit ran, not an early exit
    return results


def test_the_graphql_http_audit_passes_without_warnings(tmp_path: Path) -> None:
    with serving(tmp_path, introspection=True) as url:
        results = audit(url)
    not_ok = [r for r in results if r["status"] != "ok"]
    assert not_ok == [], json.dumps(not_ok, indent=2)


def test_with_introspection_off_only_the_introspecting_audits_fail(tmp_path: Path) -> None:
    with serving(tmp_path, introspection=False) as url:
        results = audit(url)
    assert {r["id"] for r in results if r["status"] != "ok"} == INTROSPECTING
