"""The graphql-http conformance audit (npm ``graphql-http``, its ``auditServer``) against a
real gateway over real HTTP: every audit passes, none warns (decision 0019).

The audit runs in Node (``tests/node/``, installed by ``make setup`` with ``npm ci``); the
gateway runs in a uvicorn thread over the fake backends (the audit's documents are
``{ __typename }``-sized: no page is built).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.node_tools import NODE_DIR, node
from tests.threaded_gateway import serving

AUDIT = NODE_DIR / "graphql-http-audit.mjs"


#: The audits whose documents ask ``__type`` (introspection): with introspection off (the
#: production default) the gateway refuses them by policy, with a validation error.
INTROSPECTING = {"2EA1", "28B9", "D6D5", "6A70"}


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
        results = audit(f"{url}/graphql")
    not_ok = [r for r in results if r["status"] != "ok"]
    assert not_ok == [], json.dumps(not_ok, indent=2)


def test_with_introspection_off_only_the_introspecting_audits_fail(tmp_path: Path) -> None:
    with serving(tmp_path, introspection=False) as url:
        results = audit(f"{url}/graphql")
    assert {r["id"] for r in results if r["status"] != "ok"} == INTROSPECTING
