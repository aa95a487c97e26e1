"""Discovery at twice saturation: answered pages' latency with and without load shedding.

``python -m bench.overload [--seconds 10] [--factor 2] [--out FILE]`` (~2 minutes): the live
stack with every backend at 20 ± 5 ms, and two gateways of this checkout on its backends,
pinned to CPU 0 in turn: ``shedding`` (as shipped: ``PGW_SHED_DEGRADE_AT`` /
``PGW_SHED_REFUSE_AT``, decision 0024) and ``no-shedding`` (both at 0). For each, this
driver (CPU 1, asyncio + httpx, one connection per request in flight) first estimates
saturation — Discovery for new viewers, closed loop, 8 at a time, 5 s — then sends an
open-loop schedule at ``--factor`` × that rate for ``--seconds`` (a request every
``1 / rate`` s whatever the answers do; nothing is dropped), and records each answer's status,
latency from its scheduled send, and whether the page was degraded. Reported: achieved rate,
shares answered / degraded / refused (503), and p50/p99 of the answered pages against the
Discovery budget. Writes ``--out`` (default ``bench/measured/overload.md``) and its JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from bench.load import can_pin, demo_users, load_operation, percentile, pin, variables
from bench.sidebyside import checkout_gateway
from tests.live import ROOT

OUT = Path(__file__).parent / "measured" / "overload.md"
BASE_ENV = {"PGW_DEBUG": "false", "PGW_RATE_LIMIT_ENABLED": "false"}
VARIANTS = {
    "shedding": {},
    "no-shedding": {"PGW_SHED_DEGRADE_AT": "0", "PGW_SHED_REFUSE_AT": "0"},
}


@contextlib.contextmanager
def _logs(out: Path) -> Iterator[Path]:
    logs = out.with_name(out.stem + "-logs")
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    yield logs


class Viewers:
    """Bodies and headers for viewers the gateways have not seen (pages built from scratch)."""

    def __init__(self, token: Any, n: int) -> None:
        operation = load_operation("discovery")
        self.entries = [
            (
                operation.body(variables("discovery", u), "standard"),
                {"Authorization": f"Bearer {token(u.user)}", "Content-Type": "application/json"},
            )
            for u in demo_users(n, seed=13)
        ]
        self.next = 0

    def take(self) -> tuple[bytes, dict[str, str]]:
        entry = self.entries[self.next % len(self.entries)]
        self.next += 1
        return entry


async def _one(
    client: httpx.AsyncClient, url: str, entry: tuple[bytes, dict[str, str]], scheduled: float
) -> tuple[int, float, bool]:
    try:
        response = await client.post(url, content=entry[0], headers=entry[1])
    except httpx.HTTPError:
        return 0, (time.perf_counter() - scheduled) * 1000, False
    latency = (time.perf_counter() - scheduled) * 1000
    return response.status_code, latency, b'"degraded":true' in response.content


async def saturation(url: str, viewers: Viewers, seconds: float = 5.0) -> float:
    limits = httpx.Limits(max_connections=8, max_keepalive_connections=8)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        done = 0
        stop = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < stop:
                status, _, _ = await _one(client, url, viewers.take(), time.perf_counter())
                done += status == 200

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(8)))
        return done / (time.perf_counter() - started)


async def open_loop(url: str, viewers: Viewers, rate: float, seconds: float) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=2000, max_keepalive_connections=200)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        tasks = []
        began = time.perf_counter()
        for k in range(round(rate * seconds)):
            scheduled = began + k / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_one(client, url, viewers.take(), scheduled)))
        results = await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - began
    answered = [lat for status, lat, _ in results if status == 200]
    degraded = sum(1 for status, _, d in results if status == 200 and d)
    refused = sum(1 for status, _, _ in results if status == 503)
    return {
        "offered_rps": round(rate, 1),
        "achieved_rps": round(len(results) / elapsed, 1),
        "requests": len(results),
        "answered_share": round(len(answered) / len(results), 3),
        "degraded_share_of_answered": round(degraded / max(len(answered), 1), 3),
        "refused_share": round(refused / len(results), 3),
        "other_failures": len(results) - len(answered) - refused,
        "answered_p50_ms": round(statistics.median(answered), 1) if answered else None,
        "answered_p99_ms": round(percentile(answered, 99), 1) if answered else None,
    }


def run(
    seconds: float, factor: float, out: Path, thresholds: tuple[int, int] | None = None
) -> dict[str, Any]:
    from tests.live import live_stack

    variants = dict(VARIANTS)
    if thresholds is not None:
        variants["shedding"] = {
            "PGW_SHED_DEGRADE_AT": str(thresholds[0]),
            "PGW_SHED_REFUSE_AT": str(thresholds[1]),
        }

    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    results: dict[str, Any] = {}
    with _logs(out) as logs, live_stack(logs, extra_env=BASE_ENV) as stack:
        if can_pin():
            os.sched_setaffinity(0, {1})
        for backend in stack.backend_urls:
            stack.set_fault(backend, latency_ms=15, jitter_ms=10)
        viewers = Viewers(stack.token, 4000)
        stack.procs[-1].terminate()  # the stack's own gateway is not measured
        for name, env in variants.items():
            with checkout_gateway(ROOT, stack, logs, name, {**BASE_ENV, **env}) as (url, proc):
                if can_pin():
                    pin(proc.pid, 0)
                graphql = f"{url}/graphql"
                asyncio.run(saturation(graphql, viewers, 2.0))  # warm-up
                sat = asyncio.run(saturation(graphql, viewers))
                results[name] = {
                    "saturation_rps": round(sat, 1),
                    **asyncio.run(open_loop(graphql, viewers, sat * factor, seconds)),
                }
                print(name, results[name], flush=True)
    result = {
        "command": f"python -m bench.overload --seconds {seconds} --factor {factor}"
        + (f" --degrade-at {thresholds[0]} --refuse-at {thresholds[1]}" if thresholds else ""),
        "started": started,
        "load_average": os.getloadavg(),
        "budget_ms": 300,
        "variants": results,
    }
    write(result, out)
    return result


def write(result: dict[str, Any], out: Path) -> None:
    lines = [
        f"# Discovery at {result['command'].split('--factor ')[1].split()[0]} × saturation, "
        "backends at "
        "20 ± 5 ms (pages built from scratch)",
        "",
        f"Command: `{result['command']}` — {result['started']}, load average "
        + ", ".join(f"{x:.1f}" for x in result["load_average"])
        + " at the end (shared 2-core machine). Discovery budget: "
        + f"{result['budget_ms']} ms.",
        "",
        "| gateway | saturation rps | offered / achieved rps | answered | degraded of answered "
        "| refused (503) | other failures | answered p50 ms | answered p99 ms |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in result["variants"].items():
        lines.append(
            f"| {name} | {r['saturation_rps']} | {r['offered_rps']} / {r['achieved_rps']} | "
            f"{r['answered_share']:.0%} | {r['degraded_share_of_answered']:.0%} | "
            f"{r['refused_share']:.0%} | {r['other_failures']} | {r['answered_p50_ms']} | "
            f"{r['answered_p99_ms']} |"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.overload", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--factor", type=float, default=2.0)
    parser.add_argument("--degrade-at", type=int, help="PGW_SHED_DEGRADE_AT for 'shedding'")
    parser.add_argument("--refuse-at", type=int, help="PGW_SHED_REFUSE_AT for 'shedding'")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    thresholds = None
    if args.degrade_at is not None or args.refuse_at is not None:
        thresholds = (args.degrade_at or 0, args.refuse_at or 0)
    run(args.seconds, args.factor, args.out, thresholds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
