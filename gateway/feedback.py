"""Wiring of the feedback loop for one gateway process (decision 0007).

``open_feedback`` builds, from the settings, the tracking-id signer, the decision log, the
reward outbox (SQLite file, or a Redis Stream when ``PGW_REDIS_URL`` is set), the delivery
worker that drains it into the bandit, and the event recorder ``recordEvents`` uses; it
starts the writer and the worker and stops them, in reverse, on exit.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

from clients.bandit import BanditClient
from gateway.settings import Settings
from resolvers.events import (
    DecisionLog,
    EventLimits,
    EventRecorder,
    Outbox,
    RedisOutbox,
    RewardDelivery,
    SectionTracker,
    SqliteOutbox,
)
from resolvers.tracking import TrackingSigner


@dataclass
class Feedback:
    tracker: SectionTracker
    recorder: EventRecorder
    delivery: RewardDelivery
    outbox: Outbox
    decisions: DecisionLog


def make_outbox(settings: Settings) -> Outbox:
    if settings.redis_url:
        consumer = settings.events_consumer or f"{socket.gethostname()}-{os.getpid()}"
        return RedisOutbox(
            settings.redis_url,
            f"{settings.cache_namespace}:{settings.events_stream}",
            consumer=consumer,
        )
    return SqliteOutbox(settings.events_outbox_path)


@contextlib.asynccontextmanager
async def open_feedback(settings: Settings, bandit: BanditClient) -> AsyncIterator[Feedback]:
    key = settings.tracking_key_bytes()
    signer = (
        TrackingSigner(key, settings.previous_tracking_key_bytes())
        if key is not None
        else TrackingSigner.ephemeral()
    )
    decisions = DecisionLog(settings.decision_log_path, max_queue=settings.decision_log_queue)
    outbox = make_outbox(settings)
    delivery = RewardDelivery(
        outbox,
        bandit.reward,
        batch=settings.rewards_batch,
        lease_s=settings.rewards_lease_s,
        poll_s=settings.rewards_poll_s,
        backoff_initial_s=settings.rewards_backoff_initial_s,
        backoff_max_s=settings.rewards_backoff_max_s,
    )
    recorder = EventRecorder(
        signer,
        outbox,
        decisions=decisions,
        delivery=delivery,
        limits=EventLimits(
            max_batch=settings.events_max_batch,
            window_s=settings.events_window_s,
            rate_per_s=settings.events_rate_per_s,
            burst=settings.events_burst,
        ),
    )
    await outbox.open()
    try:
        await decisions.start()
        delivery.start()
        try:
            yield Feedback(SectionTracker(signer, decisions), recorder, delivery, outbox, decisions)
        finally:
            await delivery.stop()
            await decisions.aclose()
    finally:
        await outbox.close()


__all__ = ["Feedback", "make_outbox", "open_feedback"]
