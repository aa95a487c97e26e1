"""The README's figures are the committed results, written by their commands.

``docs/results/simulation.json`` (``python -m backends simulate``) and
``docs/results/evaluation.json`` (``python -m gateway evaluate --out …``) are the source;
the README quotes them as the table rows below. Re-running a command changes the JSON, and
this test then fails until the README says the same.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results"
README = ROOT / "README.md"

MODES = {"live": "live (HTTP)", "inprocess": "in process"}


def _load(name: str) -> dict[str, Any]:
    data = json.loads((RESULTS / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def simulation_lines(results: dict[str, Any]) -> list[str]:
    """The README's simulation table rows and sentences, from ``simulation.json``."""
    lines = []
    for mode, label in MODES.items():
        for policy, run in results[mode].items():
            lines.append(
                f"| {policy} | {label} | {run['impressions']:,} | "
                f"{run['final_best_arm_share']:.3f} | {run['total_regret']:.1f} | "
                f"{run['new_viewer_regret_per_impression']:.5f} |"
            )
    ope = results["offpolicy"]
    covered = sum(1 for r in ope["runs"] if r["covered"])
    lines.append(
        f"the IPS 95 % interval held the simulated truth in {covered} of {ope['seeds']} seeds "
        f"({ope['ips_coverage']:.0%}; SNIPS {ope['snips_coverage']:.0%})"
    )
    lines.append(f"`{results['command']}`")
    return lines


def evaluation_lines(results: dict[str, Any]) -> list[str]:
    """The README's evaluation table rows and ratios, from ``evaluation.json``."""
    lines = [
        f"| {m['label']} | {m['hit_rate']:.3f} | {m['ndcg']:.3f} | {m['lost_to_dedupe']} |"
        for m in results["methods"]
    ]
    lift = results["lift"]
    lines.append(
        f"×{lift['hit_rate_ratio']:.2f} on hit-rate@10 and ×{lift['ndcg_ratio']:.2f} on NDCG@10"
    )
    lines.append(f"{results['orders_evaluated']} held-out orders")
    lines.append(f"`{results['command']}")
    return lines


def _missing(lines: list[str]) -> list[str]:
    text = README.read_text(encoding="utf-8")
    return [line for line in lines if line not in text]


def test_the_readme_quotes_the_committed_simulation_results() -> None:
    results = _load("simulation.json")
    assert results["command"].startswith("python -m backends simulate")
    assert (RESULTS / "simulation.png").stat().st_size > 10_000
    assert _missing(simulation_lines(results)) == []


def test_the_readme_quotes_the_committed_evaluation_results() -> None:
    results = _load("evaluation.json")
    assert results["command"].startswith("python -m gateway evaluate")
    assert _missing(evaluation_lines(results)) == []


def test_a_changed_figure_is_caught() -> None:
    results = _load("simulation.json")
    policy = next(iter(results["inprocess"]))
    results["inprocess"][policy]["final_best_arm_share"] += 0.001
    assert _missing(simulation_lines(results)), "a number the README does not say"
