"""Retry policy for backend calls, composed from tenacity primitives.

Only idempotent calls are retried, only on :class:`BackendUnavailable` errors flagged
``retryable`` (connect errors, 429, 503), at most ``max_retries`` times, with jittered
exponential back-off, and only while the deadline leaves a useful budget after the sleep
(:class:`stop_when_deadline_short`, a ``stop_before_delay`` measured against the request's
deadline rather than the first attempt). Timeouts, malformed bodies, open circuits and 4xx
are never retried: they would not get better within one request's budget.
"""

from __future__ import annotations

from collections.abc import Callable

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    retry_never,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base

from clients.config import RetryConfig
from clients.deadline import Deadline
from clients.errors import BackendUnavailable

__all__ = ["build_retrying", "is_retryable", "stop_when_deadline_short"]


def is_retryable(exc: BaseException) -> bool:
    """Whether a failed attempt may be retried: connect error, 429 or 503."""
    return isinstance(exc, BackendUnavailable) and exc.retryable


class stop_when_deadline_short(stop_base):  # noqa: N801 - tenacity's naming
    """Stop when the next attempt, after its back-off sleep, would have too little time.

    Args:
        deadline: the request's deadline.
        timeout_s: the backend's per-call timeout.
        reserve_s: time kept back from the deadline for the caller.
        min_attempt_s: the least budget worth starting an attempt with.
    """

    def __init__(
        self, deadline: Deadline, timeout_s: float, reserve_s: float, min_attempt_s: float
    ) -> None:
        self.deadline = deadline
        self.timeout_s = timeout_s
        self.reserve_s = reserve_s
        self.min_attempt_s = min_attempt_s

    def __call__(self, retry_state: RetryCallState) -> bool:
        budget = self.deadline.budget_for(self.timeout_s, self.reserve_s)
        return budget - retry_state.upcoming_sleep < max(self.min_attempt_s, 1e-9)


def build_retrying(
    config: RetryConfig,
    deadline: Deadline,
    *,
    timeout_s: float,
    reserve_s: float,
    idempotent: bool,
    on_retry: Callable[[RetryCallState], None] | None = None,
) -> AsyncRetrying:
    """The tenacity controller for one backend call."""
    return AsyncRetrying(
        retry=retry_if_exception(is_retryable) if idempotent else retry_never,
        stop=stop_after_attempt(1 + config.max_retries)
        | stop_when_deadline_short(deadline, timeout_s, reserve_s, config.min_attempt_s),
        wait=wait_exponential_jitter(
            multiplier=config.backoff_initial_s,
            max=config.backoff_max_s,
            jitter=config.jitter_s,
        ),
        before_sleep=on_retry,
        reraise=True,
    )
