"""The same population and bandit, in process: no gateway, no HTTP, no outbox.

The control for the live run. If the live loop learns less than this, the fault is in the
live path (attribution, delivery, caching), not in the bandit.
"""

from __future__ import annotations

from backends.bandit.logic import Bandit
from backends.simulation.population import Population, Scenario, Trace
from clients.contracts import DecideRequest, RewardKind, RewardRequest

POINT = "discovery.banners"
TALLINN = {"lat": 59.4370, "lon": 24.7536}


def run_inprocess(
    scenario: Scenario,
    policy: str,
    impressions: int,
    seed: int,
    *,
    local_time: str,
    mc_samples: int = 400,
) -> tuple[Trace, Bandit]:
    """The trace of the run and the bandit as it ended (``mc_samples``: the propensity
    estimate's re-runs; learning does not depend on them)."""
    bandit = Bandit(seed=seed, policy=policy, mc_samples=mc_samples)
    population = Population(seed)
    trace = Trace(scenario)
    for n in range(impressions):
        user, segment, new = population.next_viewer()
        decision = bandit.decide(
            DecideRequest.model_validate(
                {
                    "decision_point": POINT,
                    "arms": list(scenario.arms),
                    "user_id": user,
                    "decision_id": f"sim-{n}",
                    "context": {
                        "location": TALLINN,
                        "local_time": local_time,
                        "city": "tallinn",
                        "platform": segment,
                    },
                }
            )
        )
        arm = decision.ranking[0].arm
        served = f"{decision.decision_id}~page"
        bandit.reward(
            RewardRequest(decision_id=served, arm=arm, reward=0.0, kind=RewardKind.IMPRESSION)
        )
        click = population.clicks(scenario.rates[segment][arm])
        if click:
            bandit.reward(
                RewardRequest(decision_id=served, arm=arm, reward=1.0, kind=RewardKind.CLICK)
            )
        trace.add(segment, new, arm, click)
    return trace, bandit
