import pytest

from clients import BreakerConfig, BreakerState, CircuitBreaker, CircuitOpen
from tests.clients.conftest import FakeClock


def make(clock: FakeClock, **overrides: float) -> tuple[CircuitBreaker, list[BreakerState]]:
    values: dict[str, float] = {
        "failure_ratio": 0.5,
        "window": 10,
        "min_calls": 6,
        "consecutive_failures": 4,
        "open_s": 5.0,
    }
    values.update(overrides)
    states: list[BreakerState] = []
    config = BreakerConfig(**values)  # type: ignore[arg-type]
    return CircuitBreaker(config, clock, name="ranking", on_state_change=states.append), states


class TestClosed:
    def test_starts_closed_and_admits(self) -> None:
        breaker, _ = make(FakeClock())
        assert breaker.state is BreakerState.CLOSED
        breaker.before_call()

    def test_opens_on_consecutive_failures(self) -> None:
        breaker, states = make(FakeClock())
        for _ in range(3):
            breaker.record_failure(breaker.before_call())
        assert breaker.state is BreakerState.CLOSED
        breaker.record_failure(breaker.before_call())
        assert breaker.state is BreakerState.OPEN
        assert states == [BreakerState.OPEN]

    def test_success_resets_the_consecutive_count(self) -> None:
        breaker, _ = make(FakeClock(), min_calls=100)
        for _ in range(10):
            breaker.record_failure()
            breaker.record_failure()
            breaker.record_failure()
            breaker.record_success()
        assert breaker.state is BreakerState.CLOSED

    def test_opens_on_failure_ratio_once_min_calls_reached(self) -> None:
        breaker, _ = make(FakeClock(), consecutive_failures=100)
        # alternate: 50 % failures, but fewer than min_calls (6) until the 6th outcome
        outcomes = [True, False, True, False, True]
        for failed in outcomes:
            (breaker.record_failure if failed else breaker.record_success)()
        assert breaker.state is BreakerState.CLOSED
        breaker.record_failure()  # 4 of 6 fail
        assert breaker.state is BreakerState.OPEN

    def test_ratio_is_over_a_sliding_window(self) -> None:
        breaker, _ = make(FakeClock(), consecutive_failures=100, window=4, min_calls=4)
        for _ in range(20):  # 1 failure in every 4: 25 % < 50 %
            breaker.record_failure()
            breaker.record_success()
            breaker.record_success()
            breaker.record_success()
        assert breaker.state is BreakerState.CLOSED
        assert breaker.failure_ratio() == 0.25


class TestOpen:
    def test_fails_fast_then_half_opens_after_open_s(self) -> None:
        clock = FakeClock()
        breaker, _ = make(clock)
        for _ in range(4):
            breaker.record_failure()
        with pytest.raises(CircuitOpen) as info:
            breaker.before_call("rank")
        assert info.value.backend == "ranking"
        assert info.value.endpoint == "rank"
        clock.advance(4.9)
        assert breaker.state is BreakerState.OPEN
        clock.advance(0.1)
        assert breaker.state is BreakerState.HALF_OPEN

    def test_stragglers_from_before_opening_do_not_count(self) -> None:
        clock = FakeClock()
        breaker, _ = make(clock)
        slow = breaker.before_call()
        for _ in range(4):
            breaker.record_failure()
        clock.advance(5)
        breaker.record_success(slow)  # admitted while closed: not the probe
        assert breaker.state is BreakerState.HALF_OPEN


class TestHalfOpen:
    def open_and_wait(self) -> tuple[CircuitBreaker, FakeClock, list[BreakerState]]:
        clock = FakeClock()
        breaker, states = make(clock)
        for _ in range(4):
            breaker.record_failure()
        clock.advance(5)
        return breaker, clock, states

    def test_admits_exactly_one_probe(self) -> None:
        breaker, _, _ = self.open_and_wait()
        breaker.before_call()
        for _ in range(5):
            with pytest.raises(CircuitOpen):
                breaker.before_call()

    def test_probe_success_closes_and_resets_the_window(self) -> None:
        breaker, _, states = self.open_and_wait()
        breaker.record_success(breaker.before_call())
        assert breaker.state is BreakerState.CLOSED
        assert states == [BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.CLOSED]
        assert breaker.failure_ratio() == 0
        for _ in range(3):  # a fresh count: three failures are not enough
            breaker.record_failure()
        assert breaker.state is BreakerState.CLOSED

    def test_probe_failure_reopens_for_open_s(self) -> None:
        breaker, clock, _ = self.open_and_wait()
        breaker.record_failure(breaker.before_call())
        assert breaker.state is BreakerState.OPEN
        clock.advance(4.9)
        with pytest.raises(CircuitOpen):
            breaker.before_call()
        clock.advance(0.1)
        breaker.record_success(breaker.before_call())
        assert breaker.state is BreakerState.CLOSED

    def test_released_probe_lets_the_next_caller_probe(self) -> None:
        breaker, _, _ = self.open_and_wait()
        breaker.release(breaker.before_call())  # e.g. a 4xx: no verdict
        probe = breaker.before_call()
        breaker.record_success(probe)
        assert breaker.state is BreakerState.CLOSED

    def test_a_lost_probe_does_not_wedge_the_breaker(self) -> None:
        breaker, clock, _ = self.open_and_wait()
        breaker.before_call()  # never reports back
        clock.advance(5)
        breaker.record_success(breaker.before_call())
        assert breaker.state is BreakerState.CLOSED

    def test_state_values_are_stable_for_metrics(self) -> None:
        assert [int(s) for s in BreakerState] == [0, 1, 2]
