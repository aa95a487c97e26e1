"""``POST /v1/decide:batch``: each request decided exactly as ``/v1/decide`` would decide it,
and remembered and journalled as its own decision (rewards and off-policy evaluation)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from backends.bandit.app import create_app
from backends.bandit.logic import Bandit
from clients.contracts import DecideBatchResponse, DecideResponse, RewardRequest
from clients.contracts.bandit import MAX_BATCH_REQUESTS
from tests.backends.conftest import CTX

SECTIONS = ["for_you", "order_again", "popular", "new", "brands"]
BANNERS = ["bn-hel-1", "bn-hel-2", "bn-hel-3"]


def _req(point: str, arms: list[str], user: str | None = "u0001", **kw: Any) -> dict[str, Any]:
    return {"decision_point": point, "arms": arms, "user_id": user, "context": CTX, **kw}


def _page_requests() -> list[dict[str, Any]]:
    """What a discovery page decides (section order and banners), signed in and not."""
    return [
        _req("discovery.section_order", SECTIONS),
        _req("discovery.banners", BANNERS),
        _req("discovery.section_order", SECTIONS, user=None),
        _req("discovery.banners", ["bn-hel-1"], user=None),
    ]


@asynccontextmanager
async def _bandit_app(bandit: Bandit) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(bandit))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


def _without_id(d: DecideResponse) -> dict[str, Any]:
    return d.model_dump(mode="json", exclude={"decision_id"})


async def test_batch_decisions_equal_the_single_decisions_in_order() -> None:
    """Two bandits in the same state: one asked request by request, one in a batch."""
    requests = _page_requests()
    async with _bandit_app(Bandit(seed=3)) as one_by_one, _bandit_app(Bandit(seed=3)) as batched:
        singles = []
        for req in requests:
            r = await one_by_one.post("/v1/decide", json=req)
            assert r.status_code == 200, r.text
            singles.append(DecideResponse.model_validate(r.json()))
        r = await batched.post("/v1/decide:batch", json={"requests": requests})
        assert r.status_code == 200, r.text
        batch = DecideBatchResponse.model_validate(r.json())
    assert [_without_id(d) for d in batch.responses] == [_without_id(d) for d in singles]
    for req, d in zip(requests, batch.responses, strict=True):
        assert sorted(a.arm for a in d.ranking) == sorted(req["arms"])
        assert all(0 < a.propensity <= 1 for a in d.ranking)
    ids = [d.decision_id for d in batch.responses]
    assert len(set(ids)) == len(ids)  # each a decision of its own
    assert not set(ids) & {d.decision_id for d in singles}


async def test_the_same_request_twice_is_two_decisions(bandit: httpx.AsyncClient) -> None:
    req = _req("discovery.section_order", SECTIONS)
    body = (await bandit.post("/v1/decide:batch", json={"requests": [req, req]})).json()
    first, second = (DecideResponse.model_validate(d) for d in body["responses"])
    assert first.decision_id != second.decision_id
    # sticky: the same viewer in the same hour sees the same order
    assert [a.arm for a in first.ranking] == [a.arm for a in second.ranking]


async def test_batch_decisions_are_journalled_and_take_rewards(tmp_path: Path) -> None:
    journal = tmp_path / "bandit.jsonl"
    requests = _page_requests()
    async with _bandit_app(Bandit(seed=1, journal=journal)) as c:
        single = DecideResponse.model_validate(
            (await c.post("/v1/decide", json=requests[0])).json()
        )
        r = await c.post("/v1/decide:batch", json={"requests": requests})
        assert r.status_code == 200, r.text
        batch = DecideBatchResponse.model_validate(r.json()).responses
        # every batch decision takes rewards like a single one
        for n, d in enumerate(batch):
            reward = {
                "decision_id": d.decision_id,
                "arm": d.ranking[0].arm,
                "reward": 1.0,
                "event_id": f"e{n}",
            }
            rewarded = await c.post("/v1/rewards", json=reward)
            assert rewarded.status_code == 202, rewarded.text
            assert rewarded.json() == {"accepted": True, "counted": True}
        stats = (
            await c.get(
                "/v1/stats", params={"decision_point": "discovery.banners", "city": "helsinki"}
            )
        ).json()
    lines = [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines()]
    decisions = [line for line in lines if "decision" in line]
    rewards = [line for line in lines if "reward" in line]
    # one journal line per decision, batched or not, written exactly as a single decide's
    assert [d["decision"] for d in decisions] == [single.decision_id] + [
        d.decision_id for d in batch
    ]
    assert decisions[0] == {**decisions[1], "decision": single.decision_id}
    for line, req in zip(decisions[1:], requests, strict=True):
        assert set(line) == {"decision", "point", "viewer", "city", "segment", "arms"}
        assert (line["point"], line["viewer"], line["arms"]) == (
            req["decision_point"],
            f"u:{req['user_id']}" if req["user_id"] else None,
            req["arms"],
        )
        assert line["city"] == "helsinki"
    assert [r["reward"]["decision_id"] for r in rewards] == [d.decision_id for d in batch]
    banner_successes = sum(a["global"]["successes"] for a in stats["arms"].values())
    assert banner_successes == 2.0  # the two banner decisions of the batch
    # a restarted bandit replays the journal: the batch's decisions still take rewards, once
    restarted = Bandit(seed=1, journal=journal)
    for d in batch:
        assert d.decision_id in restarted.decisions
    again = RewardRequest(
        decision_id=batch[0].decision_id, arm=batch[0].ranking[0].arm, reward=1.0, event_id="e0"
    )
    assert not restarted.reward(again), "the counted event is remembered"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"requests": []}, id="empty"),
        pytest.param(
            {"requests": [_req("discovery.banners", BANNERS)] * (MAX_BATCH_REQUESTS + 1)},
            id="too-many",
        ),
        pytest.param({}, id="no-requests"),
        pytest.param({"requests": [{"decision_point": "x"}]}, id="invalid-request"),
        pytest.param({"requests": [_req("discovery.banners", [])]}, id="no-arms"),
    ],
)
async def test_invalid_batches_are_422_with_a_message_and_decide_nothing(
    bandit: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    r = await bandit.post("/v1/decide:batch", json=body)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert detail
    assert all(e["msg"] and e["loc"] for e in detail)
    stats = (await bandit.get("/v1/stats", params={"decision_point": "discovery.banners"})).json()
    assert stats["arms"] == {}  # no decision was made


async def test_the_largest_batch_is_answered(bandit: httpx.AsyncClient) -> None:
    requests = [
        _req("discovery.banners", [f"bn-{k}" for k in range(n + 1)], user=f"u{n + 1:04d}")
        for n in range(MAX_BATCH_REQUESTS)
    ]
    r = await bandit.post("/v1/decide:batch", json={"requests": requests})
    assert r.status_code == 200, r.text
    sizes = [len(d["ranking"]) for d in r.json()["responses"]]
    assert sizes == list(range(1, MAX_BATCH_REQUESTS + 1))


async def test_faults_apply_to_the_batch_once_per_call(bandit: httpx.AsyncClient) -> None:
    batch = {"requests": _page_requests()[:2]}
    await bandit.put("/_faults", json={"error_rate": 1.0, "status": 503})
    r = await bandit.post("/v1/decide:batch", json=batch)
    assert r.status_code == 503
    assert r.json()["error"] == "injected fault"
    await bandit.put("/_faults", json={"malformed_rate": 1.0})
    r = await bandit.post("/v1/decide:batch", json=batch)
    assert r.status_code == 200
    assert "responses" not in r.text
    await bandit.delete("/_faults")
    seen = [s["path"] for s in (await bandit.get("/_debug/requests")).json()]
    assert seen == ["/v1/decide:batch", "/v1/decide:batch"]
    assert (await bandit.post("/v1/decide:batch", json=batch)).status_code == 200
