"""The decision log is OPE-ready: IPS over a logged uniform policy recovers known values."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from resolvers.events import DecisionLog, ips_estimate

ARMS = ["bn1", "bn2", "bn3", "bn4"]
CLICK_RATE = {"bn1": 0.05, "bn2": 0.10, "bn3": 0.20, "bn4": 0.45}  # at the top slot


async def _simulate_uniform_logging(path: Path, n: int, seed: int = 7) -> None:
    """A uniformly random logging policy; clicks on the top banner by ``CLICK_RATE``."""
    rng = random.Random(seed)
    log = DecisionLog(path, max_queue=3 * n + 10)
    await log.start()
    for i in range(n):
        shown = rng.sample(ARMS, len(ARMS))  # a uniform random order: P(arm first) = 1/4
        decision_id = f"d-{i}"
        log.record(
            {
                "type": "decision",
                "decision_id": decision_id,
                "decision_point": "discovery.banners",
                "timestamp": 1_700_000_000 + i,
                "context": {"surface": "discovery", "city": "helsinki", "hour": i % 24},
                "arms": ARMS,
                "shown": shown,
                "propensities": {a: 1 / len(ARMS) for a in ARMS},
                "policy_version": "uniform-v1",
                "model_version": None,
            }
        )
        top = shown[0]
        log.record(
            {
                "type": "feedback",
                "event_id": f"i-{i}",
                "kind": "IMPRESSION",
                "decision_id": decision_id,
                "arm": top,
                "position": 0,
                "reward": None,
                "timestamp": 1_700_000_000 + i,
            }
        )
        if rng.random() < CLICK_RATE[top]:
            log.record(
                {
                    "type": "feedback",
                    "event_id": f"e-{i}",
                    "kind": "CLICK",
                    "decision_id": decision_id,
                    "arm": top,
                    "position": 0,
                    "reward": 1.0,
                    "timestamp": 1_700_000_000 + i,
                }
            )
    await log.aclose()
    assert log.dropped == 0


def _always(arm: str) -> Any:
    def policy(_context: Mapping[str, Any], arms: Sequence[str]) -> dict[str, float]:
        return {a: 1.0 if a == arm else 0.0 for a in arms}

    return policy


def _uniform(_context: Mapping[str, Any], arms: Sequence[str]) -> dict[str, float]:
    return {a: 1 / len(arms) for a in arms}


async def test_ips_from_the_log_matches_known_click_rates(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    await _simulate_uniform_logging(path, 10_000)
    best = ips_estimate(path, _always("bn4"), decision_point="discovery.banners")
    assert best.decisions == 10_000
    assert abs(best.value - CLICK_RATE["bn4"]) < max(4 * best.stderr, 0.02), best
    worst = ips_estimate(path, _always("bn1"))
    assert abs(worst.value - CLICK_RATE["bn1"]) < max(4 * worst.stderr, 0.02), worst
    logged = ips_estimate(path, _uniform)
    assert abs(logged.value - sum(CLICK_RATE.values()) / 4) < 0.01, logged
    # the estimate ranks the policies as their true values do
    assert best.value > logged.value > worst.value


async def test_a_full_queue_drops_and_counts_rather_than_blocking(tmp_path: Path) -> None:
    log = DecisionLog(tmp_path / "d.jsonl", max_queue=2)
    for i in range(5):  # the writer is not started: nothing drains the queue
        log.record({"type": "decision", "decision_id": str(i)})
    assert log.dropped == 3


async def test_snips_agrees_and_unseen_decisions_are_not_impressions(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    await _simulate_uniform_logging(path, 4_000, seed=3)
    log = DecisionLog(path)
    await log.start()
    for i in range(500):  # decisions served but never seen: no impression, no click
        log.record(
            {
                "type": "decision",
                "decision_id": f"unseen-{i}",
                "decision_point": "discovery.banners",
                "context": {},
                "arms": ARMS,
                "shown": ARMS,
                "propensities": {a: 1 / len(ARMS) for a in ARMS},
            }
        )
    await log.aclose()
    best = ips_estimate(path, _always("bn4"))
    assert best.decisions == 4_000  # per impression: the unseen pages are not trials
    low, high = best.interval()
    assert low <= CLICK_RATE["bn4"] <= high or abs(best.value - CLICK_RATE["bn4"]) < 0.02
    assert abs(best.snips - best.value) < 3 * best.stderr
    assert 0 < best.snips_stderr < 0.05
    every = ips_estimate(path, _always("bn4"), per_impression=False)
    assert every.decisions == 4_500
