"""Per-backend circuit breaker: fail fast while a backend is known to be failing.

State machine::

    CLOSED --(ratio over window | N consecutive failures)--> OPEN
    OPEN   --(open_s elapsed)--> HALF_OPEN
    HALF_OPEN --(the single probe succeeds)--> CLOSED (window reset)
    HALF_OPEN --(the probe fails)--> OPEN

In ``CLOSED`` it opens when ``failure_ratio`` of the last ``window`` outcomes failed (once at
least ``min_calls`` are recorded) or after ``consecutive_failures`` failures in a row. In
``HALF_OPEN`` exactly one probe call is admitted; concurrent callers get :class:`CircuitOpen`.

Outcomes are recorded against the permit :meth:`CircuitBreaker.before_call` returned, so a
slow call admitted before the breaker opened cannot close it later by succeeding: only the
probe decides a half-open breaker. The clock is injected so tests never sleep. See
``docs/decisions/0002-circuit-breaker.md`` for why this is not a library.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from enum import IntEnum

from clients.config import BreakerConfig
from clients.errors import CircuitOpen

__all__ = ["BreakerState", "CircuitBreaker", "Permit"]

Permit = int
"""What :meth:`CircuitBreaker.before_call` hands out: the breaker's generation at admission."""


class BreakerState(IntEnum):
    """Breaker state; the integer is what the metrics gauge exports."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitBreaker:
    """A circuit breaker over a sliding window of call outcomes.

    Args:
        config: thresholds and open duration.
        clock: monotonic seconds; injected by tests.
        name: the backend's name, carried by the :class:`CircuitOpen` it raises.
        on_state_change: called with the new state on every transition.

    Example usage:
        ```python
        breaker = CircuitBreaker(BreakerConfig(), name="ranking")
        permit = breaker.before_call("rank")  # raises CircuitOpen
        try:
            result = await do_call()
        except TransientError:
            breaker.record_failure(permit)
            raise
        breaker.record_success(permit)
        ```
    """

    def __init__(
        self,
        config: BreakerConfig,
        clock: Callable[[], float] = time.monotonic,
        *,
        name: str = "",
        on_state_change: Callable[[BreakerState], None] | None = None,
    ) -> None:
        self.config = config
        self.name = name
        self._clock = clock
        self._on_state_change = on_state_change
        self._state = BreakerState.CLOSED
        self._generation = 0
        self._window: deque[bool] = deque(maxlen=config.window)  # True = failure
        self._consecutive = 0
        self._opened_at = 0.0
        self._probe_started: float | None = None

    @property
    def state(self) -> BreakerState:
        """The current state (an open breaker whose time is up reads as half-open)."""
        if (
            self._state is BreakerState.OPEN
            and self._clock() - self._opened_at >= self.config.open_s
        ):
            self._transition(BreakerState.HALF_OPEN)
        return self._state

    def before_call(self, endpoint: str = "") -> Permit:
        """Admit a call or raise :class:`CircuitOpen`.

        Returns:
            A permit to pass to ``record_success`` / ``record_failure`` / ``release``.
        """
        state = self.state
        if state is BreakerState.CLOSED:
            return self._generation
        if state is BreakerState.HALF_OPEN:
            now = self._clock()
            # A probe that never reported back (its task died) must not wedge the breaker.
            if self._probe_started is None or now - self._probe_started >= self.config.open_s:
                self._probe_started = now
                return self._generation
            raise CircuitOpen(self.name, endpoint, "circuit half-open, probe in flight")
        retry_in = self.config.open_s - (self._clock() - self._opened_at)
        raise CircuitOpen(self.name, endpoint, f"circuit open, next probe in {retry_in:.2f}s")

    def record_success(self, permit: Permit | None = None) -> None:
        """Record a successful call (``permit=None``: apply to the current generation)."""
        if not self._current(permit):
            return
        if self._state is BreakerState.HALF_OPEN:
            self._reset()
            self._transition(BreakerState.CLOSED)
        elif self._state is BreakerState.CLOSED:
            self._window.append(False)
            self._consecutive = 0

    def record_failure(self, permit: Permit | None = None) -> None:
        """Record a failed call; may open the breaker."""
        if not self._current(permit):
            return
        if self._state is BreakerState.HALF_OPEN:
            self._open()
        elif self._state is BreakerState.CLOSED:
            self._window.append(True)
            self._consecutive += 1
            if self._consecutive >= self.config.consecutive_failures or self._ratio_tripped():
                self._open()

    def release(self, permit: Permit | None = None) -> None:
        """Forget an admitted call that had no verdict (rejected, cancelled, no budget).

        Frees the half-open probe slot so the next caller can probe.
        """
        if self._current(permit) and self._state is BreakerState.HALF_OPEN:
            self._probe_started = None

    def failure_ratio(self) -> float:
        """The failure ratio over the current window (0 when empty)."""
        return sum(self._window) / len(self._window) if self._window else 0.0

    def _ratio_tripped(self) -> bool:
        return (
            len(self._window) >= self.config.min_calls
            and self.failure_ratio() >= self.config.failure_ratio
        )

    def _current(self, permit: Permit | None) -> bool:
        _ = self.state  # let time move OPEN -> HALF_OPEN first
        return permit is None or permit == self._generation

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._reset()
        self._transition(BreakerState.OPEN)

    def _reset(self) -> None:
        self._window.clear()
        self._consecutive = 0
        self._probe_started = None

    def _transition(self, state: BreakerState) -> None:
        self._state = state
        self._generation += 1
        if self._on_state_change is not None:
            self._on_state_change(state)
