"""Everything a page build needs to know about the one request it serves."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from clients.contracts import Location, RequestContext
from clients.deadline import Deadline
from clients.results import CacheResult
from resolvers.plans import Market


@dataclass(slots=True)
class BackendTiming:
    """One backend call as the page saw it (for debug extensions and logs)."""

    backend: str
    endpoint: str
    elapsed_ms: float
    cache: str
    outcome: str


@dataclass(slots=True)
class PageTrace:
    """What happened while building a page: backend calls and the step each section took.

    Filled in as the page is built; the gateway shows it in ``extensions`` when debug is on
    and logs a summary, so nothing here may hold personal data.
    """

    started: float = field(default_factory=time.perf_counter)
    surface: str = "none"
    calls: list[BackendTiming] = field(default_factory=list)
    sections: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    degraded: bool = False
    deadline_exceeded: bool = False
    experiments: dict[str, str] = field(default_factory=dict)
    page_cache: str = "off"
    """``hit``, ``miss`` or ``off``: whether the sections came from ``resolvers.page_cache``."""

    def record(
        self, backend: str, endpoint: str, started: float, cache: CacheResult | str, outcome: str
    ) -> None:
        self.calls.append(
            BackendTiming(
                backend=backend,
                endpoint=endpoint,
                elapsed_ms=round((time.perf_counter() - started) * 1000, 2),
                cache=str(cache),
                outcome=outcome,
            )
        )


@dataclass(slots=True)
class PageRequest:
    """The viewer, where and when they are, and how long we have."""

    request_id: str
    user_id: str | None
    location: Location
    market: Market | None
    local_now: datetime
    deadline: Deadline
    reserve_s: float
    ranking_variant: str | None = None
    platform: str | None = None
    device_id: str | None = None
    hidden_sections: frozenset[str] = frozenset()
    shed: bool = False
    """The gateway is past saturation (``gateway.shedding``): build the cheapest complete
    page — popularity, stale and default sections, no retrieval, ranking or bandit call."""
    trace: PageTrace = field(default_factory=PageTrace)
    page_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    """Made here for every page served, never taken from the client: the page's exposure
    id, and the suffix of every decision id served on it (``<decision>~<page>``)."""

    @property
    def city(self) -> str | None:
        return self.market.id if self.market else None

    def backend_context(self) -> RequestContext:
        return RequestContext(
            location=self.location,
            local_time=self.local_now.isoformat(timespec="seconds"),
            city=self.city,
            platform=self.platform,
        )


def local_time(market: Market | None, now: datetime | None = None) -> datetime:
    """Wall-clock time in the market's zone (UTC outside coverage)."""
    zone = ZoneInfo(market.timezone) if market else ZoneInfo("UTC")
    return (now or datetime.now(tz=zone)).astimezone(zone)
