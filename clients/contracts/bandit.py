"""Bandit contract: ``POST /v1/decide`` and ``POST /v1/rewards``."""

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


class RewardRequest(Contract):
    """Feedback on one arm of an earlier decision; ``reward`` in [0, 1]."""

    decision_id: str
    arm: str
    reward: float = Field(ge=0, le=1)
    event_id: str | None = None
