"""Bandit contract: ``POST /v1/decide``, ``POST /v1/decide:batch`` and ``POST /v1/rewards``."""

from __future__ import annotations

from pydantic import Field

from clients.contracts.common import Contract, RequestContext


class DecideRequest(Contract):
    """Order ``arms`` at ``decision_point`` (e.g. ``discovery.section_order``)."""

    decision_point: str
    arms: list[str] = Field(min_length=1, max_length=200)
    user_id: str | None = None
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


class RewardRequest(Contract):
    """Feedback on one arm of an earlier decision; ``reward`` in [0, 1]."""

    decision_id: str
    arm: str
    reward: float = Field(ge=0, le=1)
    event_id: str | None = None
