"""The experiments report: exposures and rates per variant from the decision log."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
from typer.testing import CliRunner

from gateway.cli import app
from tools.experiments_report import report, wilson


def _log(path: Path, rates: dict[str, tuple[float, float]], n: int = 4000) -> None:
    rng = random.Random(7)
    lines: list[dict[str, Any]] = []
    for i in range(n):
        variant = "control" if i % 2 else "treatment"
        ctr, order_rate = rates[variant]
        request_id, decision_id = f"r{i}", f"d{i}"
        context = {"experiments": {"ranker": variant, "layout": "a" if i % 3 else "b"}}
        lines.append(
            {
                "type": "decision",
                "decision_id": decision_id,
                "request_id": request_id,
                "context": context,
            }
        )
        lines.append(
            {
                "type": "decision",
                "decision_id": f"{decision_id}-2",
                "request_id": request_id,
                "context": context,
            }
        )  # another section
        if rng.random() < ctr:
            for _ in range(rng.randint(1, 3)):  # several clicks are one clicking exposure
                lines.append({"type": "feedback", "decision_id": decision_id, "kind": "CLICK"})
        if rng.random() < order_rate:
            lines.append({"type": "feedback", "decision_id": f"{decision_id}-2", "kind": "ORDER"})
    path.write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n")


def test_rates_per_variant_with_intervals_covering_the_truth(tmp_path: Path) -> None:
    log = tmp_path / "decisions.jsonl"
    truth = {"control": (0.10, 0.02), "treatment": (0.16, 0.04)}
    _log(log, truth)
    stats = {(s.experiment, s.variant): s for s in report([log])}
    assert stats[("ranker", "control")].exposures == 2000
    assert stats[("layout", "a")].exposures + stats[("layout", "b")].exposures == 4000
    for variant, (ctr, order_rate) in truth.items():
        row = stats[("ranker", variant)]
        # 99.9 % intervals: a 95 % one misses the truth 1 time in 20 by design
        low, high = wilson(row.clicks, row.exposures, z=3.29)
        assert low <= ctr <= high, (variant, row)
        low, high = wilson(row.orders, row.exposures, z=3.29)
        assert low <= order_rate <= high, (variant, row)
    assert stats[("ranker", "treatment")].ctr > stats[("ranker", "control")].ctr


def test_wilson_interval_is_sane_at_the_edges() -> None:
    assert wilson(0, 0) == (0.0, 0.0)
    low, high = wilson(0, 50)
    assert low == 0.0
    assert 0.0 < high < 0.1
    low, high = wilson(50, 50)
    assert 0.9 < low < 1.0
    assert high == 1.0


def test_cli_prints_the_table(tmp_path: Path) -> None:
    log = tmp_path / "decisions.jsonl"
    _log(log, {"control": (0.1, 0.02), "treatment": (0.2, 0.02)}, n=200)
    result = CliRunner().invoke(
        app, ["experiments", "report", "--log", str(log)], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "ranker" in result.output
    assert "treatment" in result.output
    missing = CliRunner().invoke(app, ["experiments", "report", "--log", str(tmp_path / "no")])
    assert missing.exit_code == 1


def test_a_click_joins_the_exposure_it_was_made_on(tmp_path: Path) -> None:
    """Two pages that logged the same decision in different variants, on two devices with the
    same client request id: the click counts for the page whose tracking id it carried."""
    lines = [
        {
            "type": "decision",
            "decision_id": "d-shared",
            "request_id": "client-chosen",
            "exposure_id": exposure,
            "context": {"experiments": {"ranker": variant}},
        }
        for exposure, variant in (("page-a", "control"), ("page-b", "treatment"))
    ]
    lines.append(
        {"type": "feedback", "kind": "CLICK", "decision_id": "d-shared", "exposure_id": "page-a"}
    )
    path = tmp_path / "decisions.jsonl"
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    stats = {s.variant: (s.exposures, s.clicks) for s in report([path])}
    assert stats == {"control": (1, 1), "treatment": (1, 0)}
