"""The fast version of ``make simulate``: the same code paths on a small, easy population.

In process: hierarchical priors learn the best banner per segment and beat flat priors
for new viewers, and uniform random learns nothing. Live: the population's impressions
and clicks go through the real gateway's ``recordEvents`` and outbox into the real bandit,
each counted exactly once. Off-policy: IPS from a uniform log covers the truth.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from backends.simulation.inprocess import run_inprocess
from backends.simulation.live import run_live
from backends.simulation.offpolicy import check
from backends.simulation.population import scenario
from tests.live import LiveStack

BANNERS = [f"bn-tal-{n}" for n in range(1, 6)]
LOCAL_TIME = "2026-12-02T12:30:00+02:00"
#: Easy on purpose (a 20-point gap): the full run has the 1-point one.
EASY = scenario(BANNERS, top=0.40, gap=0.20)


def test_hierarchical_priors_learn_per_segment_and_help_new_viewers() -> None:
    runs = {
        policy: run_inprocess(EASY, policy, 800, 3, local_time=LOCAL_TIME, mc_samples=50)[
            0
        ].summary(window=200, every=200)
        for policy in ("hierarchical", "flat", "uniform")
    }
    assert runs["hierarchical"]["final_best_arm_share"] >= 0.8, runs["hierarchical"]
    assert runs["uniform"]["final_best_arm_share"] < 0.4
    assert (
        runs["hierarchical"]["new_viewer_regret_per_impression"]
        < runs["flat"]["new_viewer_regret_per_impression"] / 2
    )
    assert runs["hierarchical"]["total_regret"] < runs["flat"]["total_regret"]


def test_off_policy_interval_covers_the_truth(tmp_path: Path) -> None:
    result = check(
        EASY, range(1, 6), learn=300, logged=2_000, work_dir=tmp_path, local_time=LOCAL_TIME
    )
    assert result["ips_coverage"] >= 0.8, result


@pytest.mark.e2e
@pytest.mark.timeout(180)
def test_live_loop_counts_every_impression_and_click_exactly_once(live: LiveStack) -> None:
    def mint(user: str) -> str:
        return live.token(user)

    run = asyncio.run(
        run_live(
            live.gateway_url,
            live.backend_urls["bandit"],
            None,
            mint,
            EASY,
            60,
            5,
            concurrency=3,
            every=40,
            prefix=f"fast-{uuid.uuid4().hex[:8]}",
            drain_timeout_s=60,
        )
    )
    assert run.errors == 0
    assert run.rejected == 0
    assert run.decided > 0
    assert run.sent_successes > 0
    assert run.counted_trials == run.sent_trials, run
    assert run.counted_successes == run.sent_successes, run
