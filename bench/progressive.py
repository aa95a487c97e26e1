"""``make bench-progressive``: when Apollo Client 4 gets each part of a progressive page.

Starts the five reference backends and a gateway (``tests.live.live_stack``), slows the
ranking backend to 150 ms (``PUT /_faults``; the gateway's ranking timeout raised from 0.15
to 0.25 s, so that it may answer within the 300 ms budget), warms the caches with a few
pages, then asks for ``--pages`` progressive Discovery pages with ``@defer`` through Apollo
Client 4 in Node (``tests/node/progressive.mjs``), each for a viewer of their own (nothing of
theirs cached), one after the other. It records, from the request's start, when the first
result (the instant sections) and the last (the personalised ones) reached the client, the
sources of the personalised sections, and the machine's load; writes
``bench/results/progressive.json`` and prints the summary. The targets (issue 19): first
result within 40 ms, last within the 300 ms budget. ~1 minute.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULT = Path(__file__).resolve().parent / "results" / "progressive.json"
RANKING_MS = 150
BUDGET_MS = 300
RANKING_TIMEOUT_S = 0.25


def percentile(values: list[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def _commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip()


def run(pages: int, warm: int, out: Path) -> dict[str, Any]:
    from tests.live import live_stack
    from tests.node_tools import run_json

    with (
        tempfile.TemporaryDirectory() as logs,
        # the ranking call may take its 150 ms: its timeout (0.15 s by default) raised to
        # 0.25 s, within the page's 300 ms budget, so the personalised sections can arrive
        live_stack(
            Path(logs), extra_env={"PGW_RANKING__TIMEOUT_S": str(RANKING_TIMEOUT_S)}
        ) as stack,
    ):
        stack.set_fault("ranking", latency_ms=RANKING_MS)
        tokens = [stack.token(f"u{n:04d}") for n in range(1, warm + pages + 1)]
        started = time.time()
        code, result = run_json(
            "progressive.mjs", stack.graphql_url, ",".join(tokens), timeout_s=600
        )
        assert code == 0, result
        load = os.getloadavg()
    measured = result["runs"][warm:]
    first = [r["emissions"][0]["ms"] for r in measured]
    last = [r["emissions"][-1]["ms"] for r in measured]
    sources: Counter[str] = Counter()
    for r in measured:
        for slot in r["data"]["discovery"]["layout"]:
            if slot["personalised"]:
                sources[slot["personalised"]["source"]] += 1
    summary = {
        "what": "progressive Discovery pages (@defer) through Apollo Client 4, ranking at 150 ms",
        "command": "make bench-progressive",
        "timestamp": datetime.fromtimestamp(started, UTC).isoformat(),
        "commit": _commit(),
        "pages": len(measured),
        "warm_up_pages": warm,
        "ranking_latency_ms": RANKING_MS,
        "budget_ms": BUDGET_MS,
        "ranking_timeout_s": RANKING_TIMEOUT_S,
        "first_result_ms": {
            "p50": round(percentile(first, 50), 1),
            "p95": round(percentile(first, 95), 1),
            "max": round(max(first), 1),
        },
        "last_result_ms": {
            "p50": round(percentile(last, 50), 1),
            "p95": round(percentile(last, 95), 1),
            "max": round(max(last), 1),
        },
        "first_within_40ms": sum(f <= 40 for f in first) / len(first),
        "last_within_budget": sum(v <= BUDGET_MS for v in last) / len(last),
        "personalised_sources": dict(sources),
        "load_average_1_5_15": [round(x, 2) for x in load],
        "cpus": os.cpu_count(),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.progressive", description=__doc__)
    parser.add_argument("--pages", type=int, default=60)
    parser.add_argument("--warm", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args(argv)
    summary = run(args.pages, args.warm, args.out)
    json.dump(summary, sys.stdout, indent=2)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
