"""Opening hours: is a venue open at a given local time?"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from clients.contracts import OpeningInterval


def _minutes(hhmm: str) -> int:
    hours, _, minutes = hhmm.partition(":")
    return int(hours) * 60 + int(minutes or 0)


def is_open(hours: Iterable[OpeningInterval], local: datetime) -> bool:
    """True when ``local`` (the venue's local time) falls in one of the intervals.

    An interval whose closing time is not after its opening time runs past midnight, so
    Friday 18:00–02:00 also covers Saturday 01:30.
    """
    now = local.hour * 60 + local.minute
    today = local.weekday()
    yesterday = (today - 1) % 7
    for interval in hours:
        opens, closes = _minutes(interval.opens), _minutes(interval.closes)
        overnight = closes <= opens
        if interval.weekday == today:
            if overnight and now >= opens:
                return True
            if not overnight and opens <= now < closes:
                return True
        if interval.weekday == yesterday and overnight and now < closes:
            return True
    return False
