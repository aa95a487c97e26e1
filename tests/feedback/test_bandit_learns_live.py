"""A scripted population clicks one banner far more often: through recordEvents, the outbox
and the real reference bandit, that banner's share of first positions rises."""

from __future__ import annotations

import random
import time
from typing import Any

import httpx
import pytest

from tests.live import LiveStack

pytestmark = pytest.mark.e2e

HELSINKI = {"lat": 60.1699, "lon": 24.9384}
PAGE = (
    "query($loc: LocationInput!) { discovery(location: $loc) { sections { id trackingId "
    "source ... on BannerCarousel { banners { id } } } } }"
)
EVENTS = "mutation($events: [EventInput!]!) { recordEvents(events: $events) { accepted rejected } }"
ROUNDS = 6
USERS_PER_ROUND = 25


def _banners(live: LiveStack, user: str) -> tuple[str, list[str], bool]:
    """The banner section's tracking id, banners, and whether the bandit decided them (a
    fallback order carries no decision, so a click on it earns no reward)."""
    body = live.query(PAGE, {"loc": HELSINKI}, user=user).json()
    section = next(s for s in body["data"]["discovery"]["sections"] if s["id"] == "banners")
    decided = section["source"] == "PERSONALISED"
    return section["trackingId"], [b["id"] for b in section["banners"]], decided


def _rewards_counted(live: LiveStack) -> float:
    """Successes the bandit has counted for banner decisions, over all arms."""
    stats = httpx.get(
        f"{live.backend_urls['bandit']}/v1/stats",
        params={"decision_point": "discovery.banners", "city": "helsinki"},
        timeout=5,
    ).json()
    arms: dict[str, Any] = stats["arms"]
    return float(sum(a["global"]["successes"] for a in arms.values()))


def test_the_clicked_banner_rises_to_the_top(live: LiveStack) -> None:
    rng = random.Random(11)
    # Before any click: which banner leads, and which one rarely does (the favourite-to-be).
    before: list[str] = []
    offered: set[str] = set()
    for n in range(USERS_PER_ROUND):
        _, banners, _ = _banners(live, f"u{3000 + n:04d}")
        before.append(banners[0])
        offered.update(banners)
    favourite = min(sorted(offered), key=before.count)
    firsts: list[list[str]] = []
    user = 0
    baseline = _rewards_counted(live)
    sent = 0
    for _ in range(ROUNDS):
        round_firsts: list[str] = []
        for _ in range(USERS_PER_ROUND):
            user += 1
            viewer = f"u{1000 + user:04d}"
            tracking, banners, decided = _banners(live, viewer)
            round_firsts.append(banners[0])
            # the population: the favourite is clicked 60 % of the time wherever it is,
            # any other banner in first position 5 % of the time
            shown = banners.index(favourite)
            if rng.random() < 0.6:
                clicked, position = favourite, shown
            elif rng.random() < 0.05:
                clicked, position = banners[0], 0
            else:
                continue
            event = {
                "kind": "CLICK",
                "trackingId": tracking,
                "entityId": clicked,
                "position": position,
            }
            result = live.query(EVENTS, {"events": [event]}, user=viewer).json()
            assert result["data"]["recordEvents"]["accepted"] == 1, result
            sent += decided
        firsts.append(round_firsts)
        # the next round starts once the outbox has delivered this round's rewards
        deadline = time.monotonic() + 20
        while _rewards_counted(live) < baseline + sent:
            assert time.monotonic() < deadline, "rewards were not delivered"
            time.sleep(0.1)
    share_before = before.count(favourite) / len(before)
    share_after = sum(r.count(favourite) for r in firsts[-2:]) / (2 * USERS_PER_ROUND)
    assert share_after >= share_before + 0.4, (favourite, share_before, share_after, firsts)
