"""Gateway CPU per Discovery page built from scratch, and its collector pauses.

``python -m bench.cold [--pages N] [--seed S]``: starts the live stack (five reference
backends and one gateway, debug and rate limiting off, page cache off), warms it with 60
viewers, then sends one Discovery request at a time, each for a viewer not seen before, in
three phases of ``N`` pages: backends at 0 ms, at 20±5 ms (``latency_ms 15, jitter_ms 10``
on every backend), and at 0 ms again. Per phase it prints the gateway process's CPU per
page (user + system, from ``/proc``), latency p50/p99 at c=1, and the collector's pauses
from ``pgw_gc_pause_seconds`` (count and total by generation).

Why a separate tool: ``make bench`` measures pages built from scratch under load, with
caches shared between viewers; this isolates one page's cost, so a change to the page
build or to the collector shows as a plain number (decision 0013 was measured this way).
Linux only (``/proc``). Runs in ~2 minutes for the default 200 pages per phase.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from bench.load import DemoUser, demo_users, load_operation, percentile, variables

WARM_UP_VIEWERS = 60
_PAUSE = re.compile(r'^pgw_gc_pause_seconds_(count|sum)\{generation="(\d)"\} (\S+)$', re.M)


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def gc_pauses(metrics_text: str) -> dict[tuple[str, str], float]:
    """``(count|sum, generation) → value`` from the gateway's ``/metrics`` page."""
    return {(kind, gen): float(value) for kind, gen, value in _PAUSE.findall(metrics_text)}


def describe_pauses(
    before: dict[tuple[str, str], float], after: dict[tuple[str, str], float]
) -> str:
    """Collections between two scrapes and their mean pause: ``gen 0: 12 × 3.1 ms, …``."""
    parts = []
    for gen in ("0", "1", "2"):
        count = after.get(("count", gen), 0) - before.get(("count", gen), 0)
        total_s = after.get(("sum", gen), 0) - before.get(("sum", gen), 0)
        if count:
            parts.append(f"gen {gen}: {count:.0f} × {1000 * total_s / count:.1f} ms")
    return ", ".join(parts) or "no pauses"


def run(pages: int, seed: int) -> None:
    from tests.live import live_stack

    users = demo_users(WARM_UP_VIEWERS + 3 * pages, seed=seed)
    operation = load_operation("discovery")
    env = {"PGW_DEBUG": "false", "PGW_RATE_LIMIT_ENABLED": "false"}
    with (
        tempfile.TemporaryDirectory(prefix="bench-cold-") as logs,
        live_stack(Path(logs), extra_env=env) as stack,
        httpx.Client(timeout=10) as client,
    ):
        gateway_pid = stack.procs[-1].pid

        def phase(viewers: Sequence[DemoUser]) -> str:
            before_cpu = process_cpu_s(gateway_pid)
            before_gc = gc_pauses(client.get(f"{stack.gateway_url}/metrics").text)
            latencies = []
            for user in viewers:
                started = time.perf_counter()
                response = client.post(
                    stack.graphql_url,
                    content=operation.body(variables("discovery", user), "standard"),
                    headers={
                        "Authorization": f"Bearer {stack.token(user.user)}",
                        "Content-Type": "application/json",
                    },
                )
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200 or response.json().get("errors"):
                    raise SystemExit(f"page failed: {response.status_code} {response.text[:300]}")
            cpu_ms = (process_cpu_s(gateway_pid) - before_cpu) / len(viewers) * 1000
            after_gc = gc_pauses(client.get(f"{stack.gateway_url}/metrics").text)
            pauses = describe_pauses(before_gc, after_gc)
            return (
                f"CPU {cpu_ms:.2f} ms/page, p50 {statistics.median(latencies):.1f} ms, "
                f"p99 {percentile(latencies, 99):.1f} ms; collector: {pauses}"
            )

        phase(users[:WARM_UP_VIEWERS])
        first = WARM_UP_VIEWERS
        print(f"backends 0 ms:      {phase(users[first : first + pages])}")
        for backend in stack.backend_urls:
            stack.set_fault(backend, latency_ms=15, jitter_ms=10)
        print(f"backends 20±5 ms:   {phase(users[first + pages : first + 2 * pages])}")
        stack.clear_faults()
        print(f"backends 0 ms again: {phase(users[first + 2 * pages : first + 3 * pages])}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cold", description=__doc__)
    parser.add_argument("--pages", type=int, default=200, help="pages per phase (default 200)")
    parser.add_argument("--seed", type=int, default=7, help="which demo viewers (default 7)")
    args = parser.parse_args(argv)
    run(args.pages, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
