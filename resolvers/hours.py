"""Opening hours: is a venue open at a given local time?

A venue's intervals are compiled once into a weekly schedule — the sorted boundaries of its
open minute-of-week ranges — cached by the intervals themselves (so a catalog change to a
venue's hours is a new key, never a stale hit); asking is then one bisect over ints.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from operator import attrgetter

from clients.contracts import OpeningInterval

MINUTES_PER_DAY = 24 * 60

_fields = attrgetter("weekday", "opens", "closes")

HoursKey = tuple[tuple[int, str, str], ...]
"""A venue's intervals as plain ``(weekday, opens, closes)`` tuples: hashable, cheap to
compare, and exactly what the answer depends on."""

Schedule = tuple[int, ...]
"""Sorted boundaries ``start0, end0, start1, end1, …`` of disjoint, non-adjacent half-open
minute-of-week ranges (0 = Monday 00:00); a minute is open when an odd number of boundaries
are at or before it."""


def _minutes(hhmm: str) -> int:
    hours, _, minutes = hhmm.partition(":")
    return int(hours) * 60 + int(minutes or 0)


def hours_key(hours: Iterable[OpeningInterval]) -> HoursKey:
    """The cache key of a venue's intervals: the intervals themselves."""
    return tuple(map(_fields, hours))


def minute_of_week(local: datetime) -> int:
    """Minutes since Monday 00:00 of ``local``'s wall clock (seconds are ignored)."""
    return local.weekday() * MINUTES_PER_DAY + local.hour * 60 + local.minute


@lru_cache(maxsize=4096)
def weekly_schedule(key: HoursKey) -> Schedule | None:
    """The intervals as a weekly schedule, or None when one of them does not parse.

    Same semantics as checking the intervals one by one (see ``is_open``): an interval whose
    closing time is not after its opening time runs past midnight into the next weekday
    (Sunday's into Monday's); a time outside 00:00–24:00 is clipped to its day. A weekday
    outside 0–6 never matches.
    """
    try:
        parsed = [(weekday, _minutes(opens), _minutes(closes)) for weekday, opens, closes in key]
    except Exception:
        return None  # the caller falls back to the lazy check, which raises (or not) as before
    ranges: list[tuple[int, int]] = []

    def add(day: int, start: int, end: int) -> None:
        start, end = max(start, 0), min(end, MINUTES_PER_DAY)
        if start < end:
            ranges.append((day * MINUTES_PER_DAY + start, day * MINUTES_PER_DAY + end))

    for weekday, opens, closes in parsed:
        if weekday not in range(7):
            continue
        if closes <= opens:  # overnight: the rest of today, then the start of tomorrow
            add(weekday, opens, MINUTES_PER_DAY)
            add((weekday + 1) % 7, 0, closes)
        else:
            add(weekday, opens, closes)
    ranges.sort()
    merged: list[list[int]] = []
    for start, end in ranges:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return tuple(bound for pair in merged for bound in pair)


def open_at(schedule: Schedule, minute: int) -> bool:
    """True when ``minute`` (of the week, see ``minute_of_week``) is in the schedule."""
    return bisect_right(schedule, minute) % 2 == 1


def is_open_key(key: HoursKey, minute: int) -> bool:
    """``is_open`` for intervals given as their key, at a minute of the week."""
    schedule = weekly_schedule(key)
    if schedule is None:
        return _is_open_lazily(key, minute)
    return open_at(schedule, minute)


def is_open(hours: Iterable[OpeningInterval], local: datetime) -> bool:
    """True when ``local`` (the venue's local time) falls in one of the intervals.

    An interval whose closing time is not after its opening time runs past midnight, so
    Friday 18:00–02:00 also covers Saturday 01:30.
    """
    return is_open_key(hours_key(hours), minute_of_week(local))


def _is_open_lazily(key: HoursKey, minute: int) -> bool:
    """The interval-by-interval check, parsing as it goes: used only when some interval does
    not parse, so that an earlier match still answers True and otherwise the parse error is
    raised, as it always was."""
    today, now = divmod(minute, MINUTES_PER_DAY)
    yesterday = (today - 1) % 7
    for weekday, opens_text, closes_text in key:
        opens, closes = _minutes(opens_text), _minutes(closes_text)
        overnight = closes <= opens
        if weekday == today:
            if overnight and now >= opens:
                return True
            if not overnight and opens <= now < closes:
                return True
        if weekday == yesterday and overnight and now < closes:
            return True
    return False
