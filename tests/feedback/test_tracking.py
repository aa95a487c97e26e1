"""Tracking ids are signed, carry what was shown, and name no viewer in clear."""

from __future__ import annotations

import base64
import time

import orjson
import pytest

from resolvers.tracking import InvalidTrackingId, TrackingSigner, tracking_id
from tests.feedback.conftest import record, section
from tests.gateway.conftest import Gateway

IDS = [f"venue-{n:06d}" for n in range(20)]


def _token(signer: TrackingSigner, **kw: object) -> str:
    args: dict[str, object] = {
        "request_id": "9f2c4b7e8a1d4c3b9e6f5a4b3c2d1e0f",
        "surface": "discovery",
        "section_id": "for_you",
        "source": "PERSONALISED",
        "meta": {"model_version": "ranker-2026-11-01"},
        "user_id": "u0042",
        "entity_ids": IDS,
    }
    args.update(kw)
    return tracking_id(signer, **args)  # type: ignore[arg-type]


def test_a_tracking_id_round_trips_and_stays_small() -> None:
    signer = TrackingSigner(b"k" * 32)
    token = _token(
        signer,
        meta={
            "decision_id": "d-" + "a" * 32,
            "policy_version": "ts-hier-beta-v1",
            "propensities": {i: 0.05 for i in IDS},
            "order": {
                "decision_id": "d-" + "b" * 32,
                "policy_version": "p",
                "propensity": 0.3,
                "position": 2,
            },
        },
    )
    assert len(token) < 1024
    claims = signer.verify(token)
    assert claims.entity_ids == tuple(IDS)
    assert claims.section == "for_you"
    assert claims.surface == "discovery"
    assert claims.decision_id == "d-" + "a" * 32
    assert claims.propensities == tuple([0.05] * 20)
    assert claims.order is not None
    assert claims.order.position == 2
    assert claims.viewer == signer.viewer_hash("u0042")
    assert abs(claims.issued_at - time.time()) < 5
    # no personal data in clear: the payload names only the keyed hash of the viewer
    payload = base64.urlsafe_b64decode(token.split(".")[0] + "==")
    assert b"u0042" not in payload


def test_forged_and_altered_ids_are_refused() -> None:
    signer = TrackingSigner(b"k" * 32)
    token = _token(signer)
    body, signature = token.split(".")
    claims = orjson.loads(base64.urlsafe_b64decode(body + "=="))
    claims["e"] = ["venue-999999", *claims["e"]]  # claim something else was shown
    altered = base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=").decode()
    for bad in (
        f"{altered}.{signature}",
        _token(TrackingSigner(b"x" * 32)),  # another key
        body,
        "",
        "a.b.c",
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
    ):
        with pytest.raises(InvalidTrackingId):
            signer.verify(bad)


def test_signing_is_cheap() -> None:
    signer = TrackingSigner(b"k" * 32)
    started = time.perf_counter()
    for _ in range(2000):
        _token(signer)
    per_call_us = (time.perf_counter() - started) / 2000 * 1e6
    assert per_call_us < 200, per_call_us  # typically ~10 µs


async def test_sections_carry_verifiable_ids_bound_to_the_viewer(gw: Gateway) -> None:
    page = await gw.discovery(user="u0001")
    signer = gw.app.state.runtime.feedback.tracker.signer
    for s in page["sections"]:
        claims = signer.verify(s["trackingId"])
        assert claims.section == s["id"]
        assert claims.source == s["source"]
        assert claims.viewer == signer.viewer_hash("u0001")
        assert claims.request_id == page["requestId"]
    banners = signer.verify(section(page, "banners")["trackingId"])
    assert banners.decision_id
    assert banners.policy_version == "fake-ts-1"
    assert banners.entity_ids == tuple(b["id"] for b in section(page, "banners")["banners"])
    assert banners.order is not None  # the section order was a bandit decision too


async def test_events_with_bad_or_foreign_tracking_ids_are_rejected(gw: Gateway) -> None:
    page = await gw.discovery(user="u0001")
    for_you = section(page, "for_you")
    token, venue = for_you["trackingId"], for_you["venues"][0]["id"]
    body, signature = token.split(".")
    forged = _token(TrackingSigner(b"z" * 32), entity_ids=[venue])
    result = await record(
        gw,
        [
            {"kind": "CLICK", "trackingId": token, "entityId": venue, "position": 0},
            {"kind": "CLICK", "trackingId": forged, "entityId": venue},
            {"kind": "CLICK", "trackingId": f"{body[:-4]}AAAA.{signature}", "entityId": venue},
        ],
        user="u0001",
    )
    assert [r["reason"] for r in result["results"]] == [
        None,
        "INVALID_TRACKING_ID",
        "INVALID_TRACKING_ID",
    ]
    other = await record(
        gw, [{"kind": "CLICK", "trackingId": token, "entityId": venue}], user="u0002"
    )
    assert other["results"][0]["reason"] == "WRONG_VIEWER"
    anonymous = await record(gw, [{"kind": "CLICK", "trackingId": token, "entityId": venue}])
    assert anonymous["results"][0]["reason"] == "WRONG_VIEWER"
