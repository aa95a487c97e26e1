"""Feedback: signed tracking ids in, decision log and durable rewards out (decision 0007).

``tracker`` signs each section's tracking id and logs its decision; ``recorder`` validates
``recordEvents`` batches; ``outbox`` stores rewards durably (SQLite or Redis Streams);
``delivery`` drains them into the bandit backend; ``decision_log`` also reads the log back
and computes inverse-propensity estimates from it.
"""

from resolvers.events.decision_log import DecisionLog, IpsEstimate, ips_estimate, read_log
from resolvers.events.delivery import RewardDelivery
from resolvers.events.outbox import Claimed, Outbox, RedisOutbox, Reward, SqliteOutbox
from resolvers.events.recorder import (
    Event,
    EventBatchTooLarge,
    EventKind,
    EventLimits,
    EventOutcome,
    EventRecorder,
    RecordedEvents,
    RejectReason,
    event_id,
    reward_event_id,
)
from resolvers.events.tracker import SectionTracker, section_decision_id

__all__ = [
    "Claimed",
    "DecisionLog",
    "Event",
    "EventBatchTooLarge",
    "EventKind",
    "EventLimits",
    "EventOutcome",
    "EventRecorder",
    "IpsEstimate",
    "Outbox",
    "RecordedEvents",
    "RedisOutbox",
    "RejectReason",
    "Reward",
    "RewardDelivery",
    "SectionTracker",
    "SqliteOutbox",
    "event_id",
    "ips_estimate",
    "read_log",
    "reward_event_id",
    "section_decision_id",
]
