"""Opening hours: the compiled weekly schedule answers exactly as the interval-by-interval
check it replaced (kept below as the oracle), including overnight intervals and the
Sunday → Monday wrap."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from clients.contracts import OpeningInterval
from resolvers.hours import hours_key, is_open, minute_of_week, weekly_schedule

# -- the oracle: resolvers/hours.py as it was before the schedule was compiled ------------------


def _oracle_minutes(hhmm: str) -> int:
    hours, _, minutes = hhmm.partition(":")
    return int(hours) * 60 + int(minutes or 0)


def oracle_is_open(hours: Iterable[OpeningInterval], local: datetime) -> bool:
    now = local.hour * 60 + local.minute
    today = local.weekday()
    yesterday = (today - 1) % 7
    for interval in hours:
        opens, closes = _oracle_minutes(interval.opens), _oracle_minutes(interval.closes)
        overnight = closes <= opens
        if interval.weekday == today:
            if overnight and now >= opens:
                return True
            if not overnight and opens <= now < closes:
                return True
        if interval.weekday == yesterday and overnight and now < closes:
            return True
    return False


# -- strategies ---------------------------------------------------------------------------------

MONDAY = datetime(2026, 11, 23)  # a Monday
ZONES = ["UTC", "Europe/Helsinki", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"]

well_formed = st.builds(
    lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 24), st.sampled_from([0, 15, 30, 59])
) | st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))
# Times the contract does not forbid: no padding, no minutes, past 24:00, negative.
odd = st.builds(lambda h: str(h), st.integers(-3, 30)) | st.builds(
    lambda h, m: f"{h}:{m}", st.integers(-3, 30), st.integers(0, 90)
)
times = well_formed | odd
intervals = st.builds(OpeningInterval, weekday=st.integers(0, 6), opens=times, closes=times)
hours_lists = st.lists(intervals, max_size=10)


@st.composite
def local_times(draw: st.DrawFn) -> datetime:
    minute = draw(st.integers(0, 7 * 24 * 60 - 1))
    zone = ZoneInfo(draw(st.sampled_from(ZONES)))
    weeks = draw(st.integers(0, 30))  # across DST changes
    return (MONDAY + timedelta(weeks=weeks, minutes=minute)).replace(tzinfo=zone)


def _hours(*spec: tuple[int, str, str]) -> list[OpeningInterval]:
    return [OpeningInterval(weekday=d, opens=o, closes=c) for d, o, c in spec]


def _at(weekday: int, hhmm: str) -> datetime:
    h, m = (int(x) for x in hhmm.split(":"))
    return MONDAY + timedelta(days=weekday, hours=h, minutes=m)


# -- properties ---------------------------------------------------------------------------------


@settings(max_examples=1000, deadline=None)
@given(hours=hours_lists, local=local_times())
@example(hours=_hours((6, "22:00", "02:00")), local=_at(0, "01:59"))  # Sunday into Monday
@example(hours=_hours((6, "22:00", "02:00")), local=_at(0, "02:00"))
@example(hours=_hours((0, "22:00", "02:00")), local=_at(6, "01:00"))  # not backwards
@example(hours=_hours((3, "00:00", "00:00")), local=_at(4, "23:59"))  # 24 h from midnight
@example(hours=_hours((3, "12:00", "12:00")), local=_at(4, "11:59"))
@example(hours=_hours((3, "09:00", "25:00")), local=_at(4, "00:30"))  # clipped to its day
@example(hours=_hours((3, "26:00", "25:00")), local=_at(4, "23:00"))
@example(hours=_hours((3, "-1:00", "-2:00")), local=_at(3, "00:00"))
def test_is_open_equals_the_interval_by_interval_check(
    hours: list[OpeningInterval], local: datetime
) -> None:
    assert is_open(hours, local) == oracle_is_open(hours, local)


def _outcome(fn: object, hours: list[OpeningInterval], local: datetime) -> object:
    try:
        return fn(hours, local)  # type: ignore[operator]
    except Exception as error:
        return type(error)


@settings(max_examples=1000, deadline=None)
@given(
    hours=st.lists(
        st.builds(
            OpeningInterval,
            weekday=st.integers(0, 6),
            opens=times | st.text("0123456789:+-_ x", max_size=6),
            closes=times | st.text("0123456789:+-_ x", max_size=6),
        ),
        max_size=6,
    ),
    local=local_times(),
)
def test_unparsable_hours_answer_or_fail_as_before(
    hours: list[OpeningInterval], local: datetime
) -> None:
    """A malformed interval after a matching one still answers True; otherwise it raises."""
    assert _outcome(is_open, hours, local) == _outcome(oracle_is_open, hours, local)


# -- examples -----------------------------------------------------------------------------------


def test_overnight_friday_covers_saturday_morning() -> None:
    hours = _hours((4, "18:00", "02:00"))
    assert is_open(hours, _at(4, "18:00"))
    assert is_open(hours, _at(5, "01:30"))
    assert not is_open(hours, _at(5, "02:00"))
    assert not is_open(hours, _at(4, "17:59"))


def test_sunday_night_runs_into_monday() -> None:
    hours = _hours((6, "20:00", "03:00"))
    assert is_open(hours, _at(0, "02:59"))
    assert not is_open(hours, _at(0, "03:00"))
    assert is_open(hours, _at(6, "23:59"))


def test_malformed_interval_after_a_match_still_answers() -> None:
    hours = _hours((0, "09:00", "17:00"), (0, "nine", "five"))
    assert is_open(hours, _at(0, "10:00"))
    with pytest.raises(ValueError, match="invalid literal"):
        is_open(hours, _at(0, "18:00"))


def test_schedule_is_keyed_by_the_hours_themselves() -> None:
    """Changed hours are a new key: a cached schedule is never served for other hours."""
    before = _hours((0, "09:00", "17:00"))
    after = _hours((0, "09:00", "12:00"))
    assert is_open(before, _at(0, "13:00"))
    assert not is_open(after, _at(0, "13:00"))
    assert weekly_schedule(hours_key(before)) == (9 * 60, 17 * 60)


def test_schedule_merges_overlapping_and_adjacent_ranges() -> None:
    hours = _hours((0, "09:00", "12:00"), (0, "12:00", "15:00"), (0, "10:00", "11:00"))
    assert weekly_schedule(hours_key(hours)) == (9 * 60, 15 * 60)


def test_minute_of_week_ignores_seconds_and_uses_the_wall_clock() -> None:
    assert minute_of_week(datetime(2026, 11, 29, 23, 59, 59, tzinfo=UTC)) == 7 * 24 * 60 - 1
    helsinki = datetime(2026, 11, 29, 22, 30, tzinfo=UTC).astimezone(ZoneInfo("Europe/Helsinki"))
    assert minute_of_week(helsinki) == 30  # Monday 00:30 there
