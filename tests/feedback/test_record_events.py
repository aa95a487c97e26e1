"""recordEvents: per-event results, limits, rewards for bandit decisions, idempotency."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from resolvers.events import read_log, reward_event_id
from resolvers.tracking import tracking_id
from tests.fakes import FakeBackends
from tests.feedback.conftest import (
    RECORD,
    FeedbackGateway,
    delivered,
    record,
    rewards_sent,
    section,
)
from tests.gateway.conftest import Gateway


async def test_each_event_gets_its_own_result(gw: Gateway) -> None:
    page = await gw.discovery(user="u0001")
    for_you = section(page, "for_you")
    token = for_you["trackingId"]
    first, second = for_you["venues"][0]["id"], for_you["venues"][1]["id"]
    now = datetime.now(UTC)
    result = await record(
        gw,
        [
            {"kind": "IMPRESSION", "trackingId": token, "entityId": first, "position": 0},
            {"kind": "CLICK", "trackingId": token, "entityId": second, "position": 1},
            {"kind": "CLICK", "trackingId": token, "entityId": "v99"},
            {"kind": "CLICK", "trackingId": token, "entityId": second, "position": 5},
            {
                "kind": "ORDER",
                "trackingId": token,
                "entityId": first,
                "occurredAt": (now + timedelta(hours=2)).isoformat(),
            },
            {
                "kind": "ADD_TO_CART",
                "trackingId": token,
                "entityId": first,
                "occurredAt": now.isoformat(),
            },
        ],
        user="u0001",
    )
    reasons = [r["reason"] for r in result["results"]]
    assert reasons == [None, None, "ENTITY_NOT_SHOWN", "BAD_POSITION", "BAD_TIMESTAMP", None]
    assert [r["index"] for r in result["results"]] == list(range(6))
    assert (result["accepted"], result["rejected"]) == (3, 3)
    assert all(r["message"] for r in result["results"] if not r["accepted"])
    accepted = [r for r in result["results"] if r["accepted"]]
    assert all(r["eventId"] for r in accepted)
    assert len({r["eventId"] for r in accepted}) == 3
    # the same events again get the same ids (client retries are idempotent)
    again = await record(
        gw,
        [{"kind": "IMPRESSION", "trackingId": token, "entityId": first, "position": 0}],
        user="u0001",
    )
    assert again["results"][0]["eventId"] == result["results"][0]["eventId"]


async def test_expired_tracking_ids_are_rejected(gw: Gateway) -> None:
    page = await gw.discovery(user="u0001")
    for_you = section(page, "for_you")
    venue = for_you["venues"][0]["id"]
    signer = gw.app.state.runtime.feedback.tracker.signer
    claims = signer.verify(for_you["trackingId"])
    two_days_ago = tracking_id(
        signer,
        request_id=claims.request_id,
        surface=claims.surface,
        section_id=claims.section,
        source=claims.source,
        meta={},
        user_id="u0001",
        entity_ids=claims.entity_ids,
        issued_at=time.time() - 2 * 86400,
    )
    result = await record(
        gw, [{"kind": "CLICK", "trackingId": two_days_ago, "entityId": venue}], user="u0001"
    )
    assert result["results"][0]["reason"] == "EXPIRED"


async def test_batch_limit_is_a_coded_error(make_feedback_gateway: FeedbackGateway) -> None:
    async with make_feedback_gateway(events_max_batch=3) as gw:
        page = await gw.discovery(user="u0001")
        for_you = section(page, "for_you")
        event = {
            "kind": "IMPRESSION",
            "trackingId": for_you["trackingId"],
            "entityId": for_you["venues"][0]["id"],
        }
        response = await gw.query(RECORD, {"events": [event] * 4}, user="u0001")
        body = response.json()
        assert body["data"] is None
        [error] = body["errors"]
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "events"}
        assert (await record(gw, [event] * 3, user="u0001"))["accepted"] == 3


async def test_events_are_rate_limited_per_viewer(make_feedback_gateway: FeedbackGateway) -> None:
    async with make_feedback_gateway(events_burst=3, events_rate_per_s=0.001) as gw:
        page = await gw.discovery(user="u0001")
        for_you = section(page, "for_you")
        events = [
            {"kind": "IMPRESSION", "trackingId": for_you["trackingId"], "entityId": v["id"]}
            for v in for_you["venues"][:5]
        ]
        assert len(events) == 5
        result = await record(gw, events, user="u0001")
        assert [r["reason"] for r in result["results"]] == [None] * 3 + ["RATE_LIMITED"] * 2
        # another viewer has a budget of their own
        page2 = await gw.discovery(user="u0002")
        other = section(page2, "for_you")
        ok = await record(
            gw,
            [
                {
                    "kind": "IMPRESSION",
                    "trackingId": other["trackingId"],
                    "entityId": other["venues"][0]["id"],
                }
            ],
            user="u0002",
        )
        assert ok["accepted"] == 1


async def test_a_banner_click_rewards_its_decision_once(gw: Gateway, fakes: FakeBackends) -> None:
    page = await gw.discovery(user="u0001")
    banners = section(page, "banners")
    signer = gw.app.state.runtime.feedback.tracker.signer
    claims = signer.verify(banners["trackingId"])
    banner = banners["banners"][1]["id"]
    click = {
        "kind": "CLICK",
        "trackingId": banners["trackingId"],
        "entityId": banner,
        "position": 1,
    }
    impression = {"kind": "IMPRESSION", "trackingId": banners["trackingId"], "entityId": banner}
    assert (await record(gw, [impression, click, click], user="u0001"))["accepted"] == 3
    await delivered(gw)
    assert (await record(gw, [click], user="u0001"))["accepted"] == 1  # a client retry
    await delivered(gw)
    sent = rewards_sent(fakes)
    assert claims.order is not None
    served = claims.decision_id
    assert served is not None
    assert served.endswith(f"~{claims.page_id}")
    order = claims.order.decision_id
    want = {
        (served, banner, "click", reward_event_id(served, banner)),
        (served, banner, "impression", reward_event_id(served, banner, "impression")),
        (order, "banners", "click", reward_event_id(order, "banners")),
        (order, "banners", "impression", reward_event_id(order, "banners", "impression")),
    }
    assert {(r["decision_id"], r["arm"], r["kind"], r["event_id"]) for r in sent} == want
    # an impression is a trial, a click a success: each once per (decision, arm)
    assert len(sent) == 4


async def test_clicks_on_model_ranked_sections_reward_only_the_section_order(
    gw: Gateway, fakes: FakeBackends
) -> None:
    page = await gw.discovery(user="u0001")
    for_you = section(page, "for_you")
    await record(
        gw,
        [
            {
                "kind": "CLICK",
                "trackingId": for_you["trackingId"],
                "entityId": for_you["venues"][0]["id"],
            }
        ],
        user="u0001",
    )
    await delivered(gw)
    assert [(r["arm"], r["reward"]) for r in rewards_sent(fakes)] == [("for_you", 1.0)]


async def test_decisions_and_feedback_are_logged(gw: Gateway) -> None:
    page = await gw.discovery(user="u0001")
    banners = section(page, "banners")
    await record(
        gw,
        [
            {
                "kind": "CLICK",
                "trackingId": banners["trackingId"],
                "entityId": banners["banners"][0]["id"],
            }
        ],
        user="u0001",
    )
    feedback = gw.app.state.runtime.feedback
    await feedback.decisions.flush()
    records = list(read_log(feedback.decisions.path))
    decisions = [r for r in records if r["type"] == "decision"]
    points = {r["decision_point"] for r in decisions}
    assert {"discovery.banners", "discovery.section_order", None} <= points
    banner_decision = next(r for r in decisions if r["decision_point"] == "discovery.banners")
    assert banner_decision["shown"] == [b["id"] for b in banners["banners"]]
    assert set(banner_decision["arms"]) == set(banner_decision["propensities"])
    assert banner_decision["policy_version"] == "fake-ts-1"
    assert banner_decision["context"]["city"] == "helsinki"
    assert banner_decision["context"]["user"]
    assert "u0001" not in str(banner_decision)
    order = next(r for r in decisions if r["decision_point"] == "discovery.section_order")
    assert order["shown"] == [s["id"] for s in page["sections"]]
    assert {(r["decision_id"], r["arm"]) for r in records if r["type"] == "feedback"} == {
        (banner_decision["decision_id"], banners["banners"][0]["id"]),
        (order["decision_id"], "banners"),
    }
