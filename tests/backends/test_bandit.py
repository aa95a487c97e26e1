"""Bandit: Thompson sampling decisions, propensities, rewards and their de-duplication."""

from __future__ import annotations

from pathlib import Path

import httpx

from clients.contracts import DecideResponse
from tests.backends.conftest import CTX

ARMS = ["for_you", "order_again", "popular", "new", "brands"]


async def _decide(bandit: httpx.AsyncClient, user: str | None = "u0001") -> DecideResponse:
    r = await bandit.post(
        "/v1/decide",
        json={
            "decision_point": "discovery.section_order",
            "arms": ARMS,
            "user_id": user,
            "context": CTX,
        },
    )
    assert r.status_code == 200
    return DecideResponse.model_validate(r.json())


async def test_decisions_are_full_orderings_with_valid_propensities(
    bandit: httpx.AsyncClient,
) -> None:
    orders = set()
    for n in range(15):
        d = await _decide(bandit, user=f"u{n + 1:04d}")
        assert sorted(a.arm for a in d.ranking) == sorted(ARMS)
        assert all(0 < a.propensity <= 1 for a in d.ranking)
        orders.add(tuple(a.arm for a in d.ranking))
    assert len(orders) > 1  # it samples across viewers, it does not sort


async def test_decisions_are_sticky_per_viewer_until_something_is_learned(
    bandit: httpx.AsyncClient,
) -> None:
    first = await _decide(bandit)
    again = await _decide(bandit)
    assert [a.arm for a in again.ranking] == [a.arm for a in first.ranking]
    assert again.decision_id != first.decision_id
    orders = set()
    for _ in range(10):
        d = await _decide(bandit)
        orders.add(tuple(a.arm for a in d.ranking))
        body = {"decision_id": d.decision_id, "arm": d.ranking[0].arm, "reward": 0.0}
        assert (await bandit.post("/v1/rewards", json=body)).status_code == 202
    assert len(orders) > 1  # each reward moves the posterior, and with it the draw


async def test_rewards_shift_posteriors_and_the_ranking(bandit: httpx.AsyncClient) -> None:
    for _ in range(60):
        d = await _decide(bandit)
        for a in d.ranking:
            reward = 1.0 if a.arm == "new" else 0.0
            body = {"decision_id": d.decision_id, "arm": a.arm, "reward": reward}
            r = await bandit.post("/v1/rewards", json=body)
            assert r.status_code == 202
    params = {"decision_point": "discovery.section_order", "city": "helsinki", "user_id": "u0001"}
    stats = (await bandit.get("/v1/stats", params=params)).json()
    means = {arm: s["mean"] for arm, s in stats["arms"].items()}
    assert means["new"] > 0.8
    assert max(v for k, v in means.items() if k != "new") < 0.2
    firsts = [(await _decide(bandit, user="u0002")).ranking[0].arm for _ in range(10)]
    assert firsts.count("new") >= 8  # another user of the city inherits via the hierarchy


async def test_reward_dedupe_by_event_id_and_unknown_decision(bandit: httpx.AsyncClient) -> None:
    d = await _decide(bandit)
    body = {"decision_id": d.decision_id, "arm": "popular", "reward": 1.0, "event_id": "e-1"}
    assert (await bandit.post("/v1/rewards", json=body)).status_code == 202
    assert (await bandit.post("/v1/rewards", json=body)).status_code == 202
    stats = (
        await bandit.get("/v1/stats", params={"decision_point": "discovery.section_order"})
    ).json()
    assert stats["arms"]["popular"]["global"]["successes"] == 1.0
    missing = await bandit.post("/v1/rewards", json={**body, "decision_id": "d-nope"})
    assert missing.status_code == 404
    wrong_arm = await bandit.post("/v1/rewards", json={**body, "arm": "zzz", "event_id": None})
    assert wrong_arm.status_code == 422


def test_a_restarted_bandit_keeps_decisions_and_counts_rewards_once(tmp_path: Path) -> None:
    from backends.bandit.logic import Bandit
    from clients.contracts import DecideRequest, RewardRequest

    journal = tmp_path / "bandit.jsonl"
    first = Bandit(seed=1, journal=journal)
    request = DecideRequest.model_validate(
        {"decision_point": "discovery.banners", "arms": ARMS, "user_id": "u0001", "context": CTX}
    )
    decision = first.decide(request)
    arm = decision.ranking[0].arm
    reward = RewardRequest(decision_id=decision.decision_id, arm=arm, reward=1.0, event_id="e1")
    assert first.reward(reward)
    second = Bandit(seed=1, journal=journal)  # a crash and restart
    assert not second.reward(reward), "the counted event is remembered"
    late = RewardRequest(decision_id=decision.decision_id, arm=arm, reward=1.0, event_id="e2")
    assert second.reward(late), "a decision made before the restart still takes rewards"
    stats = second.stats("discovery.banners", None, None)["arms"]
    assert stats[arm]["global"]["successes"] == 2.0
