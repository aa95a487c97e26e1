"""The typed request: a frozen viewer, the deadline built once at the edge, one report."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from clients.deadline import Deadline
from resolvers.request import PageReport, RequestReport, RequestScope, Viewer
from schema import GatewayContext

ROOT = Path(__file__).resolve().parents[2]
EXTENSIONS = (
    "gateway/extensions.py",
    "gateway/metrics.py",
    "gateway/tracing.py",
    "gateway/logs.py",
)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_viewer_is_truly_frozen() -> None:
    viewer = Viewer(request_id="r1", user_id="u1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        viewer.user_id = "u2"  # type: ignore[misc]
    # no mutable container to append to: what happens goes into the report
    assert all(f.default_factory is dataclasses.MISSING for f in dataclasses.fields(Viewer))


def test_without_a_caller_timeout_the_surface_budget_counts_from_arrival() -> None:
    clock = Clock(100.0)
    scope = RequestScope(
        viewer=Viewer("r1", None), arrived=99.9, deadline=Deadline.never(clock=clock)
    )
    deadline = scope.page_deadline(0.3)
    assert deadline.expires_at == pytest.approx(100.2)
    assert deadline.remaining() == pytest.approx(0.2)


def test_the_callers_timeout_wins_when_it_is_shorter() -> None:
    scope = RequestScope.arrived_at(Viewer("r1", None), 50.0, timeout_s=0.1)
    assert scope.page_deadline(0.3).expires_at == pytest.approx(50.1)
    assert scope.page_deadline(0.05).expires_at == pytest.approx(50.05)
    assert RequestScope.arrived_at(Viewer("r1", None), 50.0).deadline.expires_at == math.inf


def test_a_late_request_gets_no_time_at_all() -> None:
    clock = Clock(10.0)
    scope = RequestScope(
        viewer=Viewer("r1", None), arrived=9.0, deadline=Deadline.never(clock=clock)
    )
    assert scope.page_deadline(0.3).expired


def test_the_report_is_what_every_page_filled_in() -> None:
    report = RequestReport()
    assert (report.surface, report.degraded, report.page_cache) == ("none", False, None)
    first, second = report.page(), report.page()
    first.surface, first.page_cache = "discovery", "hit"
    first.sources, first.experiments = {"banners": "PERSONALISED"}, {"ranker": "control"}
    second.surface, second.degraded = "cart", True
    second.sources, second.experiments = {"cross_sell": "POPULAR"}, {"cart_order": "b"}
    assert report.pages == [first, second]
    assert report.surface == "discovery"
    assert report.page_cache == "hit"
    assert report.degraded
    assert report.sources == {"banners": "PERSONALISED", "cross_sell": "POPULAR"}
    assert report.experiments == {"ranker": "control", "cart_order": "b"}


def test_the_context_reads_the_scope_it_was_built_with() -> None:
    scope = RequestScope.arrived_at(Viewer("r1", "u1"), 0.0)
    context = GatewayContext(surfaces=None, scope=scope)  # type: ignore[arg-type]
    assert context.viewer is scope.viewer
    assert context.report is scope.report
    assert context.events is None
    assert context.rate_key == "-"
    assert isinstance(scope.report.page(), PageReport)


@pytest.mark.parametrize("module", EXTENSIONS)
def test_extensions_read_the_typed_context_not_attributes_by_name(module: str) -> None:
    assert "getattr(" not in (ROOT / module).read_text()
