"""Fixtures for the feedback loop: an in-process gateway over the fakes, with its decision
log and reward outbox in the test's own directory and fast back-off."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import FakeBackends
from tests.gateway.conftest import Gateway, gateway_settings, running_gateway

RECORD = """
mutation Record($events: [EventInput!]!) {
  recordEvents(events: $events) {
    accepted rejected
    results { index accepted eventId reason message }
  }
}
"""

FAST_FEEDBACK: dict[str, Any] = {
    "rewards_backoff_initial_s": 0.02,
    "rewards_backoff_max_s": 0.1,
    "rewards_poll_s": 0.05,
    "rewards_lease_s": 0.5,
    # pages must not fall back on a loaded CI machine: these tests need their content
    "budget_ms": 5000,
    "backends": {
        **{name: {"timeout_s": 2.0} for name in ("catalog", "retrieval", "ranking", "popularity")},
        # the breaker would hold rewards back for its default 5 s after the bandit heals
        "bandit": {"timeout_s": 2.0, "breaker": {"open_s": 0.05}},
    },
}


def feedback_paths(tmp_path: Path) -> dict[str, Any]:
    return {
        "decision_log_path": tmp_path / "decisions.jsonl",
        "events_outbox_path": tmp_path / "outbox.sqlite3",
    }


FeedbackGateway = Callable[..., contextlib.AbstractAsyncContextManager[Gateway]]


@pytest.fixture
def make_feedback_gateway(tmp_path: Path, fakes: FakeBackends) -> FeedbackGateway:
    def factory(**overrides: Any) -> contextlib.AbstractAsyncContextManager[Gateway]:
        values = {**FAST_FEEDBACK, **feedback_paths(tmp_path), **overrides}
        return running_gateway(gateway_settings(tmp_path, fakes, **values), fakes)

    return factory


@pytest.fixture
def fakes() -> FakeBackends:
    return FakeBackends()


@pytest.fixture
async def gw(make_feedback_gateway: FeedbackGateway) -> AsyncIterator[Gateway]:
    async with make_feedback_gateway() as gateway:
        yield gateway


async def record(
    gateway: Gateway, events: list[dict[str, Any]], *, user: str | None = None
) -> dict[str, Any]:
    response = await gateway.query(RECORD, {"events": events}, user=user)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return dict(body["data"]["recordEvents"])


def section(page: dict[str, Any], section_id: str) -> dict[str, Any]:
    [found] = [s for s in page["sections"] if s["id"] == section_id]
    return found


def rewards_sent(fakes: FakeBackends) -> list[dict[str, Any]]:
    return [r["body"] for r in fakes.requests["bandit"] if r["path"] == "/v1/rewards"]


async def delivered(gateway: Gateway, timeout_s: float = 10.0) -> None:
    """Wait until the delivery worker finds its outbox empty (bounded; no fixed sleep)."""
    feedback = gateway.app.state.runtime.feedback
    await asyncio.wait_for(_drained(feedback), timeout_s)


async def _drained(feedback: Any) -> None:
    while True:
        await feedback.delivery.drained.wait()
        if await feedback.outbox.pending() == 0:
            return
        feedback.delivery.drained.clear()
