"""Bandit contract: ``POST /v1/decide``, ``POST /v1/decide:batch`` and ``POST /v1/rewards``."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from clients.contracts.common import Contract, RequestContext


class DecideRequest(Contract):
    """Order ``arms`` at ``decision_point`` (e.g. ``discovery.section_order``).

    ``decision_id`` is named by the caller (the gateway) so every id is its own and unique;
    the backend makes one up when it is absent. ``device_id`` identifies an anonymous viewer:
    decisions are sticky per user, else per device, and never shared between viewers.
    """

    decision_point: str
    arms: list[str] = Field(min_length=1, max_length=200)
    user_id: str | None = None
    device_id: str | None = Field(default=None, max_length=128)
    decision_id: str | None = Field(default=None, min_length=1, max_length=128)
    context: RequestContext


class Arm(Contract):
    """One arm at its position, with the probability the policy put it first there.

    Propensities are logged with the decision so off-policy evaluation can re-weight.
    """

    arm: str
    propensity: float = Field(gt=0, le=1)


class DecideResponse(Contract):
    """The full ordering of the offered arms, best first."""

    decision_id: str
    ranking: list[Arm]
    policy_version: str


MAX_BATCH_REQUESTS = 16
"""At most this many decide requests in one ``POST /v1/decide:batch``."""


class DecideBatchRequest(Contract):
    """Several decisions in one round trip (``POST /v1/decide:batch``).

    A page asks for each of its decision points (section order, banners…) at once. Each
    request is decided exactly as ``POST /v1/decide`` would decide it: its own
    ``decision_id``, its own propensities, logged (and journalled) as its own decision, so
    rewards and off-policy evaluation treat it like any other. Not idempotent: a repeated
    batch is a new set of decisions.
    """

    requests: list[DecideRequest] = Field(min_length=1, max_length=MAX_BATCH_REQUESTS)


class DecideBatchResponse(Contract):
    """One decision per request, in request order."""

    responses: list[DecideResponse]


class RewardKind(StrEnum):
    """An impression of an arm is a trial, a click on it a success."""

    IMPRESSION = "impression"
    CLICK = "click"


class RewardRequest(Contract):
    """Feedback on one arm of an earlier decision (``decision_id`` may be a served id,
    ``<decision id>~<page id>``).

    ``kind`` says what happened: each kind counts at most once per (served decision, arm),
    and a click counts its impression too when that never arrived. Without ``kind``,
    ``reward`` decides (>= 0.5 a click, else an impression), as older gateways sent it.
    """

    decision_id: str
    arm: str
    reward: float = Field(ge=0, le=1)
    kind: RewardKind | None = None
    event_id: str | None = None
