"""The garbage collector's set-up after start-up (decision 0013)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from gateway.cli import app
from gateway.collector import DEFAULT_THRESHOLDS, report_pauses, settle_after_start_up
from gateway.metrics import observe_gc_pause, render_metrics
from gateway.settings import Settings


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_collector")
def test_start_up_objects_are_frozen_and_thresholds_applied() -> None:
    before = gc.get_freeze_count()
    settle_after_start_up((5_000, 7, 9))
    assert gc.get_threshold() == (5_000, 7, 9)
    assert gc.get_freeze_count() > before
    assert gc.get_count()[0] < 100  # the collection before the freeze emptied generation 0


def test_thresholds_default_and_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings(environment="development").gc_thresholds == DEFAULT_THRESHOLDS
    assert DEFAULT_THRESHOLDS[0] > 700  # a page's temporaries die before a young collection
    monkeypatch.setenv("PGW_GC_THRESHOLDS", "[700, 10, 10]")
    assert Settings(environment="development").gc_thresholds == (700, 10, 10)


def test_negative_threshold_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGW_GC_THRESHOLDS", "[-1, 10, 10]")
    result = CliRunner().invoke(app, ["config", "show"])
    assert result.exit_code == 2
    assert "PGW_GC_THRESHOLDS" in result.output
    assert "Traceback" not in result.output


def test_every_collection_is_reported_until_undone() -> None:
    seen: list[tuple[int, float]] = []
    undo = report_pauses(lambda generation, seconds: seen.append((generation, seconds)))
    try:
        gc.collect(1)
        gc.collect()
    finally:
        undo()
    assert {1, 2} <= {g for g, _ in seen}  # (an automatic young collection may join them)
    assert all(0 <= s < 5 for _, s in seen)
    reported = len(seen)
    gc.collect()
    assert len(seen) == reported


def test_pauses_reach_the_metrics_page() -> None:
    undo = report_pauses(observe_gc_pause)
    try:
        gc.collect()
    finally:
        undo()
    body, _ = render_metrics()
    assert b'pgw_gc_pause_seconds_count{generation="2"}' in body
