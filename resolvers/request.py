"""The request as the resolvers see it: who asks, by when, and the report its pages fill in.

Built once at the edge (``gateway.app`` makes a :class:`RequestScope` per HTTP request and
puts it in the GraphQL context); each root field then derives one :class:`PageRequest`
from it. Nothing here is read back with ``getattr``: metrics, tracing, the access log and
the debug extension all read the same typed :class:`RequestReport`.

    RequestScope (edge, one per request)      PageRequest (surfaces, one per root field)
      viewer:   Viewer (frozen identity)  ──▶   market, local time, experiment assignment
      deadline: the caller's limit        ──▶   deadline: the earlier of the two
      report:   RequestReport  ◀── pages ─────  report: PageReport (backend calls, steps)
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from clients.contracts import Location, RequestContext
from clients.contracts.common import Surface
from clients.deadline import Deadline
from clients.results import CacheResult
from resolvers.materialise import Audience
from resolvers.plans import Market


@dataclass(slots=True)
class BackendTiming:
    """One backend call as the page saw it (for debug extensions and logs)."""

    backend: str
    endpoint: str
    elapsed_ms: float
    cache: str
    outcome: str


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is asking: from the verified token and the request's headers, never from arguments.

    Truly frozen: what happens while the request is served goes into the
    :class:`RequestReport`, not here.
    """

    request_id: str
    user_id: str | None
    platform: str | None = None
    device_id: str | None = None
    as_of: datetime | None = None


@dataclass(slots=True)
class PageReport:
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
class RequestReport:
    """What happened while serving one request: a :class:`PageReport` per page built.

    The one record metrics, tracing, the access log and the debug extension read, so they
    agree on the surface, on whether the request degraded and on its experiment exposures.
    """

    pages: list[PageReport] = field(default_factory=list)

    def page(self) -> PageReport:
        """A new page's report, already part of this request's."""
        report = PageReport()
        self.pages.append(report)
        return report

    @property
    def surface(self) -> str:
        """The first page's surface (``none`` when no page was built)."""
        return self.pages[0].surface if self.pages else "none"

    @property
    def degraded(self) -> bool:
        return any(p.degraded for p in self.pages)

    @property
    def page_cache(self) -> str | None:
        return self.pages[0].page_cache if self.pages else None

    @property
    def sources(self) -> dict[str, str]:
        return {k: v for p in self.pages for k, v in p.sources.items()}

    @property
    def experiments(self) -> dict[str, str]:
        """The exposure record: each experiment the viewer is in, and its variant."""
        return {k: v for p in self.pages for k, v in p.experiments.items()}


@dataclass(frozen=True, slots=True)
class RequestScope:
    """One request as the resolvers see it, built once at the edge.

    Args:
        viewer: who is asking.
        arrived: when the request arrived (``time.monotonic``); surface budgets count from it.
        deadline: the caller's own limit (``X-Request-Timeout-Ms``) from ``arrived``, or
            :meth:`Deadline.never`; each page takes the earlier of it and its budget.
        report: what the pages did, for metrics, tracing and logs.
    """

    viewer: Viewer
    arrived: float
    deadline: Deadline
    report: RequestReport = field(default_factory=RequestReport)
    shed: bool = False
    """Past saturation (``gateway.shedding``): every page is built the cheapest complete
    way (``PageRequest.shed``)."""

    @classmethod
    def arrived_at(
        cls, viewer: Viewer, arrived: float, *, timeout_s: float | None = None, shed: bool = False
    ) -> RequestScope:
        """A request that arrived at ``arrived``, with the caller's timeout if it gave one."""
        deadline = Deadline.never() if timeout_s is None else Deadline(arrived + timeout_s)
        return cls(viewer=viewer, arrived=arrived, deadline=deadline, shed=shed)

    def page_deadline(self, budget_s: float) -> Deadline:
        """The caller's deadline, or ``budget_s`` after arrival if that comes earlier."""
        return Deadline(min(self.deadline.expires_at, self.arrived + budget_s), self.deadline.clock)


@dataclass(frozen=True, slots=True)
class SurfaceInputs:
    """The surface-specific arguments that shape retrieval and filtering."""

    surface: Surface
    category: str | None = None
    venue_id: str | None = None
    cart_item_ids: tuple[str, ...] = ()

    @property
    def context_key(self) -> str:
        """Distinguishes stale entries of the same section on different pages."""
        return ",".join(filter(None, (self.category, self.venue_id, *sorted(self.cart_item_ids))))


@dataclass(slots=True)
class PageRequest:
    """One page of the request, made by ``Surfaces`` per root field: who asks, where and
    when, the experiment assignment, how long we have, the surface's arguments (``inputs``)
    and, derived from those, the ``audience`` the sections are materialised for."""

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
    report: PageReport = field(default_factory=PageReport)
    page_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    """Made here for every page served, never taken from the client: the page's exposure
    id, and the suffix of every decision id served on it (``<decision>~<page>``)."""
    inputs: SurfaceInputs = field(kw_only=True)
    audience: Audience = field(init=False, repr=False, compare=False)
    """Where and when the page is seen and what it leaves out, with the page's memo of venue
    facts; derived from ``location``, ``local_now`` and ``inputs``, never passed beside it."""

    def __post_init__(self) -> None:
        self.audience = Audience(
            location=self.location,
            now=self.local_now,
            venue_id=self.inputs.venue_id,
            excluded_ids=frozenset(self.inputs.cart_item_ids),
        )

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
