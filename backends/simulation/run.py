"""``python -m backends simulate``: run the population against each policy, live and in
process, check off-policy estimation, print a table, write ``simulation.json`` and the PNG.

Bounded: every live run has ``--impressions`` steps and a drain timeout, the whole command
a wall-clock budget (``make simulate`` wraps it in ``timeout``). Seeded: the population, the
bandit and the off-policy seeds; live runs are not bit-identical (pages come back in the
order the machine serves them), the populations they serve are.
"""

from __future__ import annotations

import asyncio
import json
import platform
import shutil
import signal
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from backends.simulation.figures import plot
from backends.simulation.inprocess import run_inprocess
from backends.simulation.live import run_live
from backends.simulation.offpolicy import check
from backends.simulation.population import SEGMENTS, scenario
from backends.simulation.stack import SECRET, running

POLICIES = ("hierarchical", "flat", "uniform")
TALLINN_BANNERS = [f"bn-tal-{n}" for n in range(1, 6)]
TARGET_SHARE = 0.90
TARGET_COVERAGE = 0.90


@dataclass(frozen=True, slots=True)
class Options:
    impressions: int = 20_000
    seed: int = 1
    policies: tuple[str, ...] = POLICIES
    concurrency: int = 3
    window: int = 2_000
    every: int = 500
    ope_seeds: int = 20
    ope_learn: int = 3_000
    ope_logged: int = 20_000
    top: float = 0.02
    gap: float = 0.01
    live: bool = True
    budget_s: float | None = None
    out: Path = Path("docs/results")


def _live(policy: str, options: Options, work: Path) -> dict[str, Any]:
    from gateway.auth import mint_token

    tokens: dict[str, str] = {}

    def mint(user: str) -> str:
        if user not in tokens:
            tokens[user] = mint_token(user, SECRET)
        return tokens[user]

    sc = scenario(TALLINN_BANNERS, top=options.top, gap=options.gap)
    with running(policy, options.seed, work / policy) as stack:
        run = asyncio.run(
            run_live(
                stack.gateway_url,
                stack.bandit_url,
                None,
                mint,
                sc,
                options.impressions,
                options.seed,
                concurrency=options.concurrency,
                every=options.every,
                prefix=f"sim-{policy}",
                budget_s=options.budget_s,
            )
        )
    return {
        **run.trace.summary(options.window, options.every),
        "loop": {
            "bandit_decided": run.decided,
            "fallback_pages": run.fallbacks,
            "failed_steps": run.errors,
            "rejected_events": run.rejected,
            "impressions_accepted": run.sent_trials,
            "clicks_accepted": run.sent_successes,
            "trials_counted": run.counted_trials,
            "successes_counted": run.counted_successes,
            "delivery_lag_trials": run.lag,
            "drain_s": round(run.drain_s, 1),
            "pages_per_s": round(options.impressions / max(run.seconds, 1e-9), 1),
        },
    }


def command(options: Options) -> str:
    """The command line that reproduces these results."""
    defaults = Options()
    parts = ["python -m backends simulate"]
    if options.impressions != defaults.impressions:
        parts.append(f"--impressions {options.impressions}")
    if options.seed != defaults.seed:
        parts.append(f"--seed {options.seed}")
    if options.policies != defaults.policies:
        parts.append(f"--policies {','.join(options.policies)}")
    if options.concurrency != defaults.concurrency:
        parts.append(f"--concurrency {options.concurrency}")
    if options.ope_seeds != defaults.ope_seeds:
        parts.append(f"--ope-seeds {options.ope_seeds}")
    if options.budget_s is not None:
        parts.append(f"--budget-s {options.budget_s:g}")
    if not options.live:
        parts.append("--no-live")
    return " ".join(parts)


def _live_all(options: Options, work: Path) -> dict[str, Any]:
    return {policy: _live(policy, options, work) for policy in options.policies}


def simulate(options: Options) -> dict[str, Any]:
    started = time.monotonic()
    sc = scenario(TALLINN_BANNERS, top=options.top, gap=options.gap)
    local_time = datetime.now(ZoneInfo("Europe/Tallinn")).isoformat(timespec="seconds")
    results: dict[str, Any] = {
        "title": (
            f"5 banners, best {options.top:.0%} vs {options.top - options.gap:.0%} CTR, "
            f"{len(SEGMENTS)} segments, {options.impressions} impressions, seed {options.seed}"
        ),
        "command": command(options),
        "window": options.window,
        "scenario": {
            "rates": sc.rates,
            "segments": dict(SEGMENTS),
            "best": {s: sc.best(s) for s, _ in SEGMENTS},
        },
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options).items()},
        "targets": {"best_arm_share": TARGET_SHARE, "ope_coverage": TARGET_COVERAGE},
        "inprocess": {},
        "live": {},
    }
    work = Path(tempfile.mkdtemp(prefix="pgw-simulate-"))
    try:
        # live runs one after the other (a stack each is six processes), beside the
        # in-process runs and the off-policy check
        with ThreadPoolExecutor(max_workers=1) as pool:
            live = pool.submit(_live_all, options, work) if options.live else None
            for policy in POLICIES:
                trace, _ = run_inprocess(
                    sc, policy, options.impressions, options.seed, local_time=local_time
                )
                results["inprocess"][policy] = trace.summary(options.window, options.every)
            results["offpolicy"] = check(
                sc,
                range(options.seed, options.seed + options.ope_seeds),
                learn=options.ope_learn,
                logged=options.ope_logged,
                work_dir=work / "ope",
                local_time=local_time,
            )
            if live is not None:
                results["live"] = live.result()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["seconds"] = round(time.monotonic() - started, 1)
    results["machine"] = {"cpus": _cpus(), "python": platform.python_version()}
    return results


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def verdict(results: dict[str, Any]) -> dict[str, Any]:
    """The targets, from the results: which hold."""
    mode = "live" if results["live"] else "inprocess"
    runs = results[mode]
    out: dict[str, Any] = {"measured_on": mode}
    if "hierarchical" in runs:
        out["best_arm_share"] = runs["hierarchical"]["final_best_arm_share"]
        out["best_arm_share_ok"] = out["best_arm_share"] >= TARGET_SHARE
    if "hierarchical" in runs and "flat" in runs:
        hier = runs["hierarchical"]["new_viewer_regret_per_impression"]
        flat = runs["flat"]["new_viewer_regret_per_impression"]
        out["new_viewer_regret"] = {"hierarchical": hier, "flat": flat}
        out["hierarchical_beats_flat_for_new_viewers"] = hier < flat
    coverage = results["offpolicy"]["ips_coverage"]
    out["ope_coverage"] = coverage
    out["ope_coverage_ok"] = coverage >= TARGET_COVERAGE
    return out


def table(results: dict[str, Any]) -> str:
    lines = [
        f"{'policy':<14}{'mode':<11}{'impressions':>12}{'best-arm share':>16}"
        f"{'total regret':>14}{'new-viewer regret/imp':>23}"
    ]
    for mode in ("live", "inprocess"):
        for policy, run in results[mode].items():
            lines.append(
                f"{policy:<14}{mode:<11}{run['impressions']:>12}"
                f"{run['final_best_arm_share']:>16.3f}{run['total_regret']:>14.1f}"
                f"{run['new_viewer_regret_per_impression']:>23.5f}"
            )
    ope = results["offpolicy"]
    lines.append(
        f"off-policy: IPS 95 % interval holds the truth in {ope['ips_coverage']:.0%} of "
        f"{ope['seeds']} seeds (SNIPS {ope['snips_coverage']:.0%})"
    )
    for policy, run in results["live"].items():
        loop = run["loop"]
        lines.append(
            f"live {policy}: {loop['bandit_decided']} decided, {loop['fallback_pages']} "
            f"fallback pages; trials sent/counted {loop['impressions_accepted']}/"
            f"{loop['trials_counted']:.0f}, successes {loop['clicks_accepted']}/"
            f"{loop['successes_counted']:.0f}; {loop['pages_per_s']} pages/s"
        )
    return "\n".join(lines)


def main(options: Options) -> int:
    # ``timeout`` (make simulate) sends SIGTERM: unwind, so every stack is stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results = simulate(options)
    results["verdict"] = verdict(results)
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "simulation.json").write_text(
        json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    plot(results, options.out / "simulation.png")
    print(table(results))
    print(json.dumps(results["verdict"], indent=2))
    print(f"wrote {options.out / 'simulation.json'} and {options.out / 'simulation.png'}")
    return 0
