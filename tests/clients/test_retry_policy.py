"""The retry policy's pieces, called directly with a hand-made state (no sleeping)."""

from __future__ import annotations

from typing import Any

import pytest
from tenacity import RetryCallState

from clients import (
    BackendMalformed,
    BackendRejected,
    BackendTimeout,
    BackendUnavailable,
    CircuitOpen,
    Deadline,
)
from clients.retry import is_retryable, stop_when_deadline_short
from tests.clients.conftest import FakeClock


def make_retry_state(attempt: int, upcoming_sleep: float) -> RetryCallState:
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = attempt
    state.upcoming_sleep = upcoming_sleep
    return state


class TestRetryConditions:
    @pytest.mark.parametrize(
        ("error", "expected"),
        [
            (BackendUnavailable("b", "e", retryable=True), True),  # connect error
            (BackendUnavailable("b", "e", status=503, retryable=True), True),
            (BackendUnavailable("b", "e", status=429, retryable=True), True),
            (BackendUnavailable("b", "e", status=500), False),
            (BackendTimeout("b", "e"), False),
            (BackendMalformed("b", "e"), False),
            (CircuitOpen("b", "e"), False),
            (BackendRejected("b", "e", status=400), False),
        ],
    )
    def test_only_connect_errors_429_and_503(self, error: Any, expected: bool) -> None:
        assert is_retryable(error) is expected


class TestStopConditions:
    def test_stops_when_sleep_would_leave_too_little_budget(self) -> None:
        clock = FakeClock()
        deadline = Deadline.after(0.1, clock=clock)
        stop = stop_when_deadline_short(deadline, 0.25, 0.015, min_attempt_s=0.02)
        assert not stop(make_retry_state(1, upcoming_sleep=0.01))  # 0.085 - 0.01 left
        assert stop(make_retry_state(1, upcoming_sleep=0.07))  # 0.015 left after sleep
        clock.advance(0.07)
        assert stop(make_retry_state(1, upcoming_sleep=0.0))  # 0.015 left

    def test_never_stops_on_time_with_a_generous_deadline(self) -> None:
        stop = stop_when_deadline_short(Deadline.never(), 0.25, 0.015, min_attempt_s=0.02)
        assert not stop(make_retry_state(5, upcoming_sleep=0.05))
