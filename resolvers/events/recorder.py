"""``recordEvents``: validate each event against its tracking id, derive rewards, enqueue.

An event is accepted only when its tracking id is genuine (signed by us), was issued to this
viewer, lists the entity as shown in that section (at that position, when one is given),
and is within the time window; otherwise it is rejected with a reason — every event gets a
result, none is dropped silently. Accepted events go to the decision log as ``feedback``
lines (with the page's exposure id). On a bandit-decided section an IMPRESSION becomes a
trial and a CLICK a success of that arm of that decision, in the durable outbox — for the
banner decision (arm: the banner) and for the section-order decision (arm: the section).
Each kind is one reward per (served decision, arm), whatever number of events carry it;
ADD_TO_CART and ORDER produce none (decision 0018).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from resolvers.events.decision_log import DecisionLog
from resolvers.events.delivery import RewardDelivery
from resolvers.events.outbox import Outbox, Reward
from resolvers.events.tracker import section_decision_id
from resolvers.token_bucket import TokenBuckets
from resolvers.tracking import InvalidTrackingId, TrackingClaims, TrackingSigner

log = logging.getLogger("pgw.events")


class EventKind(StrEnum):
    IMPRESSION = "IMPRESSION"
    CLICK = "CLICK"
    ADD_TO_CART = "ADD_TO_CART"
    ORDER = "ORDER"


class RejectReason(StrEnum):
    INVALID_TRACKING_ID = "INVALID_TRACKING_ID"
    WRONG_VIEWER = "WRONG_VIEWER"
    ENTITY_NOT_SHOWN = "ENTITY_NOT_SHOWN"
    BAD_POSITION = "BAD_POSITION"
    EXPIRED = "EXPIRED"
    BAD_TIMESTAMP = "BAD_TIMESTAMP"
    RATE_LIMITED = "RATE_LIMITED"
    UNAVAILABLE = "UNAVAILABLE"


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    tracking_id: str
    entity_id: str
    position: int | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class EventOutcome:
    index: int
    event_id: str | None
    reason: RejectReason | None = None
    message: str | None = None

    @property
    def accepted(self) -> bool:
        return self.reason is None


@dataclass(frozen=True, slots=True)
class RecordedEvents:
    """The answer to a batch: one outcome per event, in the order sent."""

    results: list[EventOutcome]

    @property
    def accepted(self) -> int:
        return sum(1 for r in self.results if r.accepted)

    @property
    def rejected(self) -> int:
        return len(self.results) - self.accepted


@dataclass(frozen=True, slots=True)
class EventLimits:
    max_batch: int = 50
    window_s: float = 86_400.0
    clock_skew_s: float = 300.0
    rate_per_s: float = 10.0
    burst: int = 100


class EventBatchTooLarge(ValueError):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"{size} events in one call; at most {limit} allowed")
        self.size = size
        self.limit = limit


def event_id(tracking: str, kind: str, entity_id: str, position: int | None) -> str:
    """Deterministic: a client's retry of the same event has the same id."""
    raw = f"{tracking}|{kind}|{entity_id}|{'' if position is None else position}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def reward_event_id(decision_id: str, arm: str, kind: str = "click") -> str:
    """One reward of each kind per arm per served decision: repeated impressions or clicks
    of it count once at the bandit."""
    prefix = "reward" if kind == "click" else kind
    return hashlib.sha256(f"{prefix}|{decision_id}|{arm}".encode()).hexdigest()[:32]


class EventRecorder:
    """Validates event batches and hands their rewards to the outbox."""

    def __init__(
        self,
        signer: TrackingSigner,
        outbox: Outbox,
        *,
        decisions: DecisionLog | None = None,
        delivery: RewardDelivery | None = None,
        limits: EventLimits | None = None,
    ) -> None:
        self.signer = signer
        self.outbox = outbox
        self.decisions = decisions or DecisionLog(None)
        self.delivery = delivery
        self.limits = limits or EventLimits()
        self._buckets = TokenBuckets()

    async def record(
        self, user_id: str | None, rate_key: str, events: Sequence[Event]
    ) -> RecordedEvents:
        """One outcome per event, in order. Rewards are durable before this returns."""
        limits = self.limits
        if len(events) > limits.max_batch:
            raise EventBatchTooLarge(len(events), limits.max_batch)
        now = time.time()
        viewer = self.signer.viewer_hash(user_id)
        outcomes: list[EventOutcome] = []
        rewards: dict[str, Reward] = {}
        carrying: set[int] = set()  # indexes of events that earned a reward
        for index, event in enumerate(events):
            try:
                claims = self.signer.verify(event.tracking_id)
            except InvalidTrackingId:
                outcomes.append(
                    EventOutcome(
                        index,
                        None,
                        RejectReason.INVALID_TRACKING_ID,
                        "trackingId is not one this service issued, or it was altered",
                    )
                )
                continue
            rejected = self._check(event, claims, viewer, now)
            if rejected is None and self._buckets.take(
                rate_key, rate=limits.rate_per_s, burst=limits.burst, now=now
            ):
                rejected = (RejectReason.RATE_LIMITED, "too many events; send them later")
            if rejected is not None:
                outcomes.append(EventOutcome(index, None, *rejected))
                continue
            eid = event_id(event.tracking_id, event.kind.value, event.entity_id, event.position)
            outcomes.append(EventOutcome(index, eid))
            for reward in self._feedback(eid, event, claims, now):
                rewards.setdefault(reward.event_id, reward)
                carrying.add(index)
        if rewards:
            try:
                added = await self.outbox.add(list(rewards.values()))
            except Exception:
                # The rewards are not durable: refuse the events that carry them (the
                # client resends; events are idempotent), never accept and lose them.
                log.exception("reward outbox unavailable; %d events refused", len(carrying))
                outcomes = [
                    EventOutcome(
                        o.index,
                        None,
                        RejectReason.UNAVAILABLE,
                        "could not be stored right now; send it again later",
                    )
                    if o.index in carrying
                    else o
                    for o in outcomes
                ]
            else:
                if added and self.delivery is not None:
                    self.delivery.wake()
        return RecordedEvents(outcomes)

    def _check(
        self, event: Event, claims: TrackingClaims, viewer: str | None, now: float
    ) -> tuple[RejectReason, str] | None:
        limits = self.limits
        if claims.viewer != viewer:
            return RejectReason.WRONG_VIEWER, "trackingId was issued to another viewer"
        try:
            shown_at = claims.entity_ids.index(event.entity_id)
        except ValueError:
            return RejectReason.ENTITY_NOT_SHOWN, "entityId was not shown in that section"
        if event.position is not None and event.position != shown_at:
            return (
                RejectReason.BAD_POSITION,
                f"entityId was shown at position {shown_at} (0-based), not {event.position}",
            )
        if now - claims.issued_at > limits.window_s:
            return RejectReason.EXPIRED, f"trackingId is older than {limits.window_s:.0f} s"
        if event.occurred_at is not None:
            moment = event.occurred_at
            if moment.tzinfo is None:  # no offset given: read it as UTC
                moment = moment.replace(tzinfo=UTC)
            occurred = moment.timestamp()
            if (
                occurred < claims.issued_at - limits.clock_skew_s
                or occurred > now + limits.clock_skew_s
            ):
                return (
                    RejectReason.BAD_TIMESTAMP,
                    "occurredAt is before the section was shown or in the future",
                )
        return None

    def _feedback(self, eid: str, event: Event, claims: TrackingClaims, now: float) -> list[Reward]:
        """Log the event (joined to its decisions) and return the rewards it earns."""
        click = event.kind is EventKind.CLICK
        trial = event.kind is EventKind.IMPRESSION
        joins: list[tuple[str, str, bool]] = []  # (decision id, arm, bandit-decided)
        if claims.decision_id is not None:
            joins.append((claims.decision_id, event.entity_id, True))
        else:
            page = claims.page_id or claims.request_id
            joins.append((section_decision_id(page, claims.section), event.entity_id, False))
        if claims.order is not None:
            joins.append((claims.order.decision_id, claims.section, True))
        rewards: list[Reward] = []
        for decision_id, arm, bandit in joins:
            self.decisions.record(
                {
                    "type": "feedback",
                    "event_id": eid,
                    "kind": event.kind.value,
                    "decision_id": decision_id,
                    "exposure_id": claims.page_id,
                    "arm": arm,
                    "position": event.position,
                    "reward": 1.0 if click else None,
                    "timestamp": now,
                    "occurred_at": event.occurred_at.timestamp() if event.occurred_at else None,
                }
            )
            if bandit and click:
                rewards.append(Reward(reward_event_id(decision_id, arm), decision_id, arm, 1.0))
            elif bandit and trial:
                rewards.append(
                    Reward(reward_event_id(decision_id, arm, "impression"), decision_id, arm, 0.0)
                )
        return rewards


__all__ = [
    "Event",
    "EventBatchTooLarge",
    "EventKind",
    "EventLimits",
    "EventOutcome",
    "EventRecorder",
    "RecordedEvents",
    "RejectReason",
    "event_id",
    "reward_event_id",
]
