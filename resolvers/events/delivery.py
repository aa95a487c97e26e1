"""The delivery worker: drains the reward outbox into the bandit's ``POST /v1/rewards``.

One task per gateway process (started and stopped by the app's lifespan). Each tick claims a
bounded batch and posts it, one reward at a time:

* 202 (counted or already counted) and 409 → delivered;
* any other 4xx (404 unknown decision, 422 unknown arm) → dead-lettered and logged: a
  retry cannot succeed;
* a timeout, connect error, 5xx or open circuit → the batch goes back with exponential
  back-off (with jitter, capped) and the worker waits before the next tick: when the bandit
  is down it is down for every reward, so hammering it entry by entry would only hurt.

``drained`` is set whenever a tick finds nothing due (tests await it; operators can read
``delivered`` / ``dead`` / ``failures``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable

from clients.contracts import RewardRequest
from clients.deadline import Deadline
from clients.errors import BackendError, BackendRejected
from resolvers.events.outbox import Claimed, Outbox

log = logging.getLogger("pgw.rewards")

RewardSender = Callable[[RewardRequest, Deadline], Awaitable[None]]


class RewardDelivery:
    """Background delivery of outbox rewards with back-off; ``wake()`` on new entries."""

    def __init__(
        self,
        outbox: Outbox,
        send: RewardSender,
        *,
        batch: int = 100,
        lease_s: float = 30.0,
        poll_s: float = 1.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        call_timeout_s: float = 2.0,
    ) -> None:
        self.outbox = outbox
        self._send = send
        self.batch = batch
        self.lease_s = lease_s
        self.poll_s = poll_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.call_timeout_s = call_timeout_s
        self.delivered = 0
        self.dead = 0
        self.failures = 0
        self.drained = asyncio.Event()
        self._wake = asyncio.Event()
        self._failed_ticks = 0
        self._store_failing = False
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """New entries were added: deliver them now rather than at the next poll."""
        self.drained.clear()
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.get_running_loop().create_task(self._run(), name="rewards")

    async def stop(self, grace_s: float = 5.0) -> None:
        """Let the current tick finish (bounded by ``grace_s``), then stop."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wake.set()
        done, _ = await asyncio.wait({task}, timeout=grace_s)
        if not done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def backoff_s(self) -> float:
        exp = self.backoff_initial_s * 2 ** min(max(self._failed_ticks - 1, 0), 30)
        capped = min(exp, self.backoff_max_s)
        return float(capped * (0.5 + random.random() / 2))

    async def _run(self) -> None:
        while not self._stopping:
            try:
                wait_s = await self.tick()
            except Exception as exc:  # the store itself failed (disk, Redis): keep trying
                if not self._store_failing:
                    # once per outage, not once per tick: the traceback says it all
                    log.exception("reward outbox unavailable (%s); retrying with back-off", exc)
                self._store_failing = True
                self._failed_ticks += 1
                wait_s = self.backoff_s()
            else:
                if self._store_failing:
                    log.warning("reward outbox available again")
                self._store_failing = False
            if wait_s > 0 and not self._stopping:
                self._wake.clear()
                # asyncio.wait, not asyncio.timeout: it never swallows a cancellation
                waiter = asyncio.ensure_future(self._wake.wait())
                try:
                    await asyncio.wait({waiter}, timeout=wait_s)
                finally:
                    waiter.cancel()

    async def tick(self) -> float:
        """Deliver one batch; returns how long to wait before the next tick."""
        claimed = await self.outbox.claim(self.batch, self.lease_s)
        if not claimed:
            self.drained.set()
            return self.poll_s
        self.drained.clear()
        done: list[Claimed] = []
        for i, entry in enumerate(claimed):
            r = entry.reward
            request = RewardRequest(
                decision_id=r.decision_id,
                arm=r.arm,
                reward=r.reward,
                kind=r.kind,
                event_id=r.event_id,
            )
            try:
                await self._send(request, Deadline.after(self.call_timeout_s))
            except BackendRejected as exc:
                if exc.status == 409:
                    done.append(entry)
                    continue
                self.dead += 1
                log.warning(
                    "reward dead-lettered: event %s decision %s arm %s: %s",
                    r.event_id,
                    r.decision_id,
                    r.arm,
                    exc,
                )
                await self.outbox.dead(entry, f"{exc.status}: {exc.message}")
            except BackendError as exc:
                self.failures += 1
                self._failed_ticks += 1
                await self.outbox.delivered(done)
                self.delivered += len(done)
                delay = self.backoff_s()
                await self.outbox.retry(claimed[i:], delay, f"{type(exc).__name__}: {exc}")
                return delay
            else:
                done.append(entry)
        await self.outbox.delivered(done)
        self.delivered += len(done)
        self._failed_ticks = 0
        return 0.0


__all__ = ["RewardDelivery", "RewardSender"]
