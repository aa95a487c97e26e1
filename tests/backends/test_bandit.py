"""Bandit: Thompson sampling decisions, propensities, rewards and their de-duplication."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from clients.contracts import DecideRequest, DecideResponse, RewardRequest
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
    # the same decision served on another page (``<decision>~<page>``) is another trial
    served = f"{decision.decision_id}~page-2"
    late = RewardRequest(decision_id=served, arm=arm, reward=1.0, event_id="e2")
    assert second.reward(late), "a decision made before the restart still takes rewards"
    stats = second.stats("discovery.banners", None, None)["arms"]
    assert stats[arm]["global"]["successes"] == 2.0


def test_journal_lines_are_json_dumps_byte_for_byte() -> None:
    from backends.bandit.logic import _journal_line

    records: list[dict[str, object]] = [
        {"decision": "d-1", "point": "p", "user": None, "city": "helsinki", "arms": ARMS},
        {"decision": "d-2", "point": "p", "user": "Töölö ☕", "city": "x", "arms": ["\x7f"]},
        {"decision": "d-3", "point": 'q"\\/\n\t\x01', "user": "u", "city": "c", "arms": []},
        {"reward": {"decision_id": "d-1", "arm": "new", "reward": 1e-05, "event_id": None}},
        {"reward": {"decision_id": "d-1", "arm": "new", "reward": 0.5, "event_id": "e"}},
    ]
    for record in records:
        assert _journal_line(record) == json.dumps(record, separators=(",", ":")) + "\n"


def _run(bandit: object, requests: list[DecideRequest]) -> list[dict[str, object]]:
    """Decisions (ids blanked) with a reward after every third one."""
    from backends.bandit.logic import Bandit

    assert isinstance(bandit, Bandit)
    out = []
    for n, req in enumerate(requests):
        d = bandit.decide(req)
        if n % 3 == 2:
            bandit.reward(
                RewardRequest(decision_id=d.decision_id, arm=d.ranking[0].arm, reward=1.0)
            )
        out.append({**d.model_dump(), "decision_id": None})
    return out


def test_the_sticky_memo_changes_no_decision(monkeypatch: pytest.MonkeyPatch) -> None:
    from backends.bandit import logic

    hours = ["2026-11-26T12:05:00+02:00", "2026-11-26T12:50:00+02:00", "2026-11-26T13:10:00+02:00"]
    requests = [
        DecideRequest.model_validate(
            {
                "decision_point": point,
                "arms": ARMS if k % 2 else ARMS[:3],
                "user_id": user,
                "context": {**CTX, "local_time": hour},
            }
        )
        for k, (point, user, hour) in enumerate(
            (point, user, hour)
            for hour in hours
            for user in ("u0001", None, "u0002")
            for point in ("discovery.section_order", "discovery.banners")
            for _ in range(3)
        )
    ]
    memoised = logic.Bandit(seed=4)
    with_memo = _run(memoised, requests)
    assert len(memoised._sticky) < len(requests)  # the memo was used
    monkeypatch.setattr(logic, "MAX_STICKY", 0)  # remembers nothing
    without = logic.Bandit(seed=4)
    assert _run(without, requests) == with_memo
    assert not without._sticky


def test_decide_payload_is_the_decision_on_the_wire() -> None:
    from backends.bandit.logic import Bandit
    from backends.server import json_response

    request = DecideRequest.model_validate(
        {"decision_point": "discovery.banners", "arms": ARMS, "user_id": "u0001", "context": CTX}
    )
    payload = Bandit(seed=2).decide_payload(request)
    model = DecideResponse.model_validate(payload)
    assert json_response(payload).body == model.model_dump_json().encode()
    again = Bandit(seed=2).decide(request)
    assert again.model_dump() == {**model.model_dump(), "decision_id": again.decision_id}


def _bandit_decision(bandit: object, **extra: object) -> DecideResponse:
    from backends.bandit.logic import Bandit

    assert isinstance(bandit, Bandit)
    return bandit.decide(
        DecideRequest.model_validate(
            {"decision_point": "discovery.banners", "arms": ARMS, "context": CTX, **extra}
        )
    )


def test_impressions_are_trials_and_clicks_successes_once_per_decision_and_arm() -> None:
    from backends.bandit.logic import Bandit
    from clients.contracts import RewardKind

    bandit = Bandit(seed=3)
    d = _bandit_decision(bandit, user_id="u0001", decision_id="gw-1")
    assert d.decision_id == "gw-1"  # the gateway names its decisions

    def send(served: str, arm: str, kind: RewardKind) -> bool:
        return bandit.reward(RewardRequest(decision_id=served, arm=arm, reward=0, kind=kind))

    assert send("gw-1~p1", "new", RewardKind.IMPRESSION)
    assert not send("gw-1~p1", "new", RewardKind.IMPRESSION)  # twice is once
    assert send("gw-1~p1", "new", RewardKind.CLICK)
    assert not send("gw-1~p1", "new", RewardKind.CLICK)
    assert not send("gw-1~p1", "new", RewardKind.IMPRESSION)
    # a click whose impression never arrived counts its trial too
    assert send("gw-1~p1", "popular", RewardKind.CLICK)
    assert not send("gw-1~p1", "popular", RewardKind.IMPRESSION)
    # the same decision served on another page is another trial
    assert send("gw-1~p2", "new", RewardKind.IMPRESSION)
    stats = bandit.stats("discovery.banners", "helsinki", "u0001")["arms"]
    assert isinstance(stats, dict)
    assert stats["new"]["viewer"] == {"successes": 1.0, "trials": 2.0, "failures": 1.0}
    assert stats["popular"]["city"] == {"successes": 1.0, "trials": 1.0, "failures": 0.0}
    assert stats["brands"]["global"]["trials"] == 0.0


def test_the_posterior_is_clicks_out_of_impressions_whatever_is_shown_most() -> None:
    """An arm shown ten times as often but clicked at half the rate must lose."""
    from backends.bandit.logic import Bandit
    from clients.contracts import RewardKind

    bandit = Bandit(seed=5)
    for n in range(2000):
        d = _bandit_decision(bandit, user_id=f"u{n}", decision_id=f"gw-{n}")
        arm = "popular" if n % 11 else "new"  # popular shown 10x as often
        rate = 0.05 if arm == "popular" else 0.10
        bandit.reward(
            RewardRequest(decision_id=d.decision_id, arm=arm, reward=0, kind=RewardKind.IMPRESSION)
        )
        if (n * 7919) % 1000 < rate * 1000:
            bandit.reward(
                RewardRequest(decision_id=d.decision_id, arm=arm, reward=1, kind=RewardKind.CLICK)
            )
    stats = bandit.stats("discovery.banners", "helsinki", None)["arms"]
    assert isinstance(stats, dict)
    assert stats["new"]["mean"] > stats["popular"]["mean"]
    assert abs(stats["popular"]["mean"] - 0.05) < 0.02


def test_decision_ids_are_unique_and_anonymous_viewers_never_share_a_draw() -> None:
    from backends.bandit.logic import Bandit, DuplicateDecisionError

    bandit = Bandit(seed=6)
    _bandit_decision(bandit, decision_id="gw-x")
    with pytest.raises(DuplicateDecisionError):
        _bandit_decision(bandit, decision_id="gw-x")
    by_device = [
        tuple(a.arm for a in _bandit_decision(bandit, device_id=f"dev-{n}").ranking)
        for n in range(12)
    ]
    assert len(set(by_device)) > 1  # devices of one city draw independently
    again = tuple(a.arm for a in _bandit_decision(bandit, device_id="dev-3").ranking)
    assert again == by_device[3]  # and each device's draw is sticky


def test_uniform_policy_has_exact_propensities() -> None:
    from backends.bandit.logic import Bandit

    bandit = Bandit(seed=7, policy="uniform")
    d = _bandit_decision(bandit, user_id="u1")
    assert d.policy_version.startswith("uniform")
    assert all(a.propensity == pytest.approx(1 / len(ARMS)) for a in d.ranking)
