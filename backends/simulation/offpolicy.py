"""The off-policy check: from a log of the uniform policy, does IPS recover the value of the
policy the bandit learned?

Per seed: the hierarchical bandit learns in process from the seeded population; its policy
for a new viewer of each segment — the probability that its Thompson draw puts each arm
first — is frozen (Monte Carlo, seeded). The uniform policy then serves the population and
its decisions, impressions and clicks are written in the decision log's format (the
records the gateway's tracker and recorder write), and :func:`ips_estimate` — the
gateway's own estimator — estimates the frozen policy's click-through rate from that log.
The simulated truth is the frozen policy's exact value under the population. The check
counts the seeds whose 95 % interval holds the truth.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from backends.bandit.logic import Bandit
from backends.simulation.inprocess import POINT, run_inprocess
from backends.simulation.population import SEGMENTS, Population, Scenario
from resolvers.events.decision_log import ips_estimate


def frozen_policy(
    bandit: Bandit, scenario: Scenario, seed: int, draws: int = 20_000
) -> dict[str, dict[str, float]]:
    """Per segment: P(arm first) under the bandit's posterior for a new viewer."""
    rng = np.random.default_rng(seed)
    arms = list(scenario.arms)
    policy: dict[str, dict[str, float]] = {}
    for segment, _ in SEGMENTS:
        a, b = bandit.posterior(POINT, arms, "tallinn", None, segment)
        firsts = np.argmax(rng.beta(a, b, size=(draws, len(arms))), axis=1)
        counts = np.bincount(firsts, minlength=len(arms))
        policy[segment] = {arm: float(c) / draws for arm, c in zip(arms, counts, strict=True)}
    return policy


def truth(policy: Mapping[str, Mapping[str, float]], scenario: Scenario) -> float:
    return sum(
        share * sum(p * scenario.rates[segment][arm] for arm, p in policy[segment].items())
        for segment, share in SEGMENTS
    )


def log_uniform(path: Path, scenario: Scenario, impressions: int, seed: int) -> None:
    """The uniform policy's decisions, impressions and clicks, as decision-log lines."""
    population = Population(seed + 10_000, prefix="ope")
    rng = random.Random(seed + 20_000)
    arms = list(scenario.arms)
    with path.open("wb") as out:
        for n, (_user, segment, _new, u) in enumerate(population.steps(impressions)):
            shown = rng.sample(arms, len(arms))
            decision_id = f"d-{n}~page-{n}"
            lines: list[dict[str, Any]] = [
                {
                    "type": "decision",
                    "decision_id": decision_id,
                    "decision_point": POINT,
                    "context": {"surface": "discovery", "city": "tallinn", "platform": segment},
                    "arms": arms,
                    "shown": shown,
                    "propensities": {arm: 1 / len(arms) for arm in arms},
                    "policy_version": "uniform-v1",
                },
                {
                    "type": "feedback",
                    "kind": "IMPRESSION",
                    "decision_id": decision_id,
                    "arm": shown[0],
                },
            ]
            if u < scenario.rates[segment][shown[0]]:
                lines.append(
                    {
                        "type": "feedback",
                        "kind": "CLICK",
                        "decision_id": decision_id,
                        "arm": shown[0],
                    }
                )
            out.write(b"".join(orjson.dumps(line) + b"\n" for line in lines))


def _target(
    policy: Mapping[str, Mapping[str, float]],
) -> Callable[[Mapping[str, Any], Sequence[str]], Mapping[str, float]]:
    def target(context: Mapping[str, Any], _arms: Sequence[str]) -> Mapping[str, float]:
        return policy[str(context["platform"])]

    return target


def check(
    scenario: Scenario,
    seeds: Sequence[int],
    *,
    learn: int,
    logged: int,
    work_dir: Path,
    local_time: str,
) -> dict[str, object]:
    work_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, object]] = []
    for seed in seeds:
        _, bandit = run_inprocess(
            scenario, "hierarchical", learn, seed, local_time=local_time, mc_samples=50
        )
        policy = frozen_policy(bandit, scenario, seed)
        value = truth(policy, scenario)
        path = work_dir / f"uniform-{seed}.jsonl"
        log_uniform(path, scenario, logged, seed)

        estimate = ips_estimate(path, _target(policy), decision_point=POINT)
        low, high = estimate.interval()
        snips_low = estimate.snips - 1.959963984540054 * estimate.snips_stderr
        snips_high = estimate.snips + 1.959963984540054 * estimate.snips_stderr
        rows.append(
            {
                "seed": seed,
                "truth": round(value, 5),
                "ips": round(estimate.value, 5),
                "ips_interval": [round(low, 5), round(high, 5)],
                "snips": round(estimate.snips, 5),
                "covered": low <= value <= high,
                "snips_covered": snips_low <= value <= snips_high,
                "impressions": estimate.decisions,
            }
        )
        path.unlink()
    covered = sum(1 for r in rows if r["covered"])
    return {
        "seeds": len(rows),
        "learned_from_impressions": learn,
        "logged_impressions": logged,
        "ips_coverage": round(covered / max(len(rows), 1), 3),
        "snips_coverage": round(sum(1 for r in rows if r["snips_covered"]) / max(len(rows), 1), 3),
        "runs": rows,
    }
