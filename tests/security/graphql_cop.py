"""Run graphql-cop (a peer's GraphQL security auditor) against the gateway under production
settings: ``GRAPHQL_COP_DIR=/path/to/graphql-cop make fuzz`` (or ``python -m
tests.security.graphql_cop DIR``). graphql-cop is fetched and installed beside the project,
never committed: its own virtualenv is ``DIR/.venv`` when present, else this Python.

The only finding allowed is GET support for queries (GraphQL over HTTP allows it; identity
comes only from the Authorization header, so a cross-site GET carries none). Writes
``tests/security/results/graphql-cop.json``.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.live import ROOT, free_port, wait_healthy

ALLOWED = {"GET Method Query Support"}
RESULT = Path(__file__).with_name("results") / "graphql-cop.json"


def audit(cop_dir: Path) -> list[dict[str, object]]:
    """graphql-cop's findings against a production-settings gateway started here."""
    python = cop_dir / ".venv" / "bin" / "python"
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "PGW_ENVIRONMENT": "production",
            "PGW_JWT_SECRET": secrets.token_urlsafe(36),
            "PGW_TRACKING_KEY": secrets.token_urlsafe(36),
            "PGW_DECISION_LOG_PATH": f"{tmp}/decisions.jsonl",
            "PGW_EVENTS_OUTBOX_PATH": f"{tmp}/outbox.sqlite3",
            "PGW_REFERENCE_REFRESH_S": "3600",
        }
        with open(f"{tmp}/gateway.log", "wb") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "gateway", "serve", "--port", str(port)],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                wait_healthy(f"http://127.0.0.1:{port}/healthz", 180, server)
                run = subprocess.run(
                    [
                        str(python if python.exists() else sys.executable),
                        "graphql-cop.py",
                        "-t",
                        f"http://127.0.0.1:{port}/graphql",
                        "-o",
                        "json",
                    ],
                    cwd=cop_dir,
                    capture_output=True,
                    text=True,
                    timeout=300,
                    check=True,
                )
            finally:
                server.terminate()
                server.wait(timeout=30)
    results: list[dict[str, object]] = json.loads(run.stdout.strip().splitlines()[-1])
    return results


def main() -> None:
    cop_dir = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ["GRAPHQL_COP_DIR"])
    results = audit(cop_dir)
    findings = [r for r in results if r.get("result")]
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(
        json.dumps(
            {
                "command": "GRAPHQL_COP_DIR=... make fuzz",
                "settings": "PGW_ENVIRONMENT=production (defaults otherwise)",
                "tests": len(results),
                "findings": [
                    {k: r.get(k) for k in ("title", "severity", "impact")} for r in findings
                ],
            },
            indent=2,
        )
        + "\n"
    )
    print(f"graphql-cop: {len(results)} tests, findings:")
    for finding in findings:
        print(f"  [{finding.get('severity')}] {finding.get('title')}")
    unexpected = [f for f in findings if f.get("title") not in ALLOWED]
    if unexpected:
        raise SystemExit(f"graphql-cop found: {[f.get('title') for f in unexpected]}")


if __name__ == "__main__":
    main()
