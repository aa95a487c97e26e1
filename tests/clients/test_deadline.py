import math

import pytest

from clients import Deadline
from tests.clients.conftest import FakeClock


def test_remaining_counts_down_and_never_goes_negative() -> None:
    clock = FakeClock()
    deadline = Deadline.after(0.3, clock=clock)
    assert deadline.remaining() == pytest.approx(0.3)
    clock.advance(0.1)
    assert deadline.remaining() == pytest.approx(0.2)
    assert not deadline.expired
    clock.advance(1.0)
    assert deadline.remaining() == 0.0
    assert deadline.expired


def test_budget_is_the_smaller_of_timeout_and_remaining_minus_reserve() -> None:
    clock = FakeClock()
    deadline = Deadline.after(0.3, clock=clock)
    assert deadline.budget_for(0.25, 0.015) == pytest.approx(0.25)
    clock.advance(0.1)
    assert deadline.budget_for(0.25, 0.015) == pytest.approx(0.185)
    clock.advance(0.19)
    assert deadline.budget_for(0.25, 0.015) <= 0  # no time: fail fast


def test_within_takes_the_earlier_deadline() -> None:
    clock = FakeClock()
    deadline = Deadline.after(0.3, clock=clock)
    assert deadline.within(0.1).remaining() == pytest.approx(0.1)
    assert deadline.within(5).remaining() == pytest.approx(0.3)


def test_never_does_not_expire() -> None:
    assert Deadline.never().remaining() == math.inf
    assert Deadline.never().budget_for(0.25, 0.015) == 0.25


def test_deadline_is_frozen() -> None:
    deadline = Deadline.after(1)
    with pytest.raises(AttributeError):
        deadline.expires_at = 0  # type: ignore[misc]
