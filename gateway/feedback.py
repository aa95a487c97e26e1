"""Wiring of the feedback loop for one gateway process (decision 0007).

``open_feedback`` builds, from the settings, the tracking-id signer, the decision log, the
reward outbox, the delivery worker that drains it into the bandit, and the event recorder
``recordEvents`` uses; it starts the writer and the worker and stops them, in reverse, on
exit. The transport (decision 0017): with ``PGW_EVENTS_REDIS_URL``, the outbox and the
decision log are two Redis Streams on that durable Redis; without it, the demo's local files
(a SQLite outbox, a JSON-lines log). The cache's Redis (``PGW_REDIS_URL``) is never used for
them: it may evict and forget.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

from clients.bandit import BanditClient
from gateway.metrics import DECISIONS_DROPPED, OUTBOX_PENDING
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
from resolvers.events.decision_stream import RedisDecisionStream
from resolvers.tracking import TrackingSigner


@dataclass
class Feedback:
    tracker: SectionTracker
    recorder: EventRecorder
    delivery: RewardDelivery
    outbox: Outbox
    decisions: DecisionLog


def make_outbox(settings: Settings) -> Outbox:
    if settings.events_redis_url:
        consumer = settings.events_consumer or f"{socket.gethostname()}-{os.getpid()}"
        return RedisOutbox(
            settings.events_redis_url,
            f"{settings.cache_namespace}:{settings.events_stream}",
            consumer=consumer,
        )
    return SqliteOutbox(settings.events_outbox_path)


def make_decision_log(settings: Settings) -> DecisionLog:
    if settings.events_redis_url:
        return RedisDecisionStream(
            settings.events_redis_url,
            decisions_stream_key(settings),
            max_queue=settings.decision_log_queue,
        )
    return DecisionLog(settings.decision_log_path, max_queue=settings.decision_log_queue)


def decisions_stream_key(settings: Settings) -> str:
    return f"{settings.cache_namespace}:{settings.events_decisions_stream}"


async def _report(outbox: Outbox, decisions: DecisionLog, every_s: float = 5.0) -> None:
    """Outbox lag and dropped decision lines as metrics, every few seconds."""
    reported = 0
    while True:
        with contextlib.suppress(Exception):
            OUTBOX_PENDING.set(await outbox.pending())
        DECISIONS_DROPPED.inc(decisions.dropped - reported)
        reported = decisions.dropped
        await asyncio.sleep(every_s)


@contextlib.asynccontextmanager
async def open_feedback(settings: Settings, bandit: BanditClient) -> AsyncIterator[Feedback]:
    key = settings.tracking_key_bytes()
    signer = (
        TrackingSigner(key, settings.previous_tracking_key_bytes())
        if key is not None
        else TrackingSigner.ephemeral()
    )
    decisions = make_decision_log(settings)
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
        reporter = asyncio.get_running_loop().create_task(_report(outbox, decisions))
        try:
            yield Feedback(SectionTracker(signer, decisions), recorder, delivery, outbox, decisions)
        finally:
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporter
            await delivery.stop()
            await decisions.aclose()
    finally:
        await outbox.close()


__all__ = ["Feedback", "decisions_stream_key", "make_decision_log", "make_outbox", "open_feedback"]
