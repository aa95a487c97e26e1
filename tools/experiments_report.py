"""``python -m gateway experiments report``: exposures, click-through and order rates per
experiment variant, from the decision log (decisions carry the viewer's assignments in
their context; feedback lines join to them by exposure id).

A page served is one exposure of each experiment the viewer was in: the gateway gives it an
exposure id (its page id) that its decision lines and the tracking ids of its sections
carry, so a click joins the very page it was made on — never another request that happened
to log the same decision, nor a client-chosen request id. Lines from before exposure ids
fall back to the decision id's request. Click-through is the share
of exposed requests with at least one click; order rate likewise with an order. Intervals
are Wilson 95 % score intervals, which stay sensible for small counts and rates near 0.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

Z95 = 1.959963984540054


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion."""
    if trials == 0:
        return (0.0, 0.0)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return (low, high)


@dataclass(frozen=True, slots=True)
class VariantStats:
    experiment: str
    variant: str
    exposures: int
    clicks: int
    orders: int

    @property
    def ctr(self) -> float:
        return self.clicks / self.exposures if self.exposures else 0.0

    @property
    def order_rate(self) -> float:
        return self.orders / self.exposures if self.exposures else 0.0


def _lines(paths: Iterable[Path]) -> Iterator[dict[str, object]]:
    for path in paths:
        with path.open("rb") as handle:
            for raw in handle:
                if raw.strip():
                    try:
                        record = orjson.loads(raw)
                    except orjson.JSONDecodeError:
                        continue  # a torn last line of a live log
                    if isinstance(record, dict):
                        yield record


def report(paths: Iterable[Path]) -> list[VariantStats]:
    """Per (experiment, variant): exposures (pages served), and those with a click or an
    order."""
    exposure_of: dict[str, str] = {}
    assigned: dict[str, dict[str, str]] = {}
    clicked: set[str] = set()
    ordered: set[str] = set()
    feedback: list[tuple[str | None, str, str]] = []
    for record in _lines(paths):
        if record.get("type") == "decision":
            exposure = str(record.get("exposure_id") or record.get("request_id"))
            exposure_of[str(record.get("decision_id"))] = exposure
            context = record.get("context")
            experiments = context.get("experiments") if isinstance(context, dict) else None
            if isinstance(experiments, dict) and experiments:
                assigned[exposure] = {str(k): str(v) for k, v in experiments.items()}
        elif record.get("type") == "feedback":
            given = record.get("exposure_id")
            feedback.append(
                (
                    str(given) if given else None,
                    str(record.get("decision_id")),
                    str(record.get("kind")),
                )
            )
    for exposure_id, decision_id, kind in feedback:
        joined = exposure_id or exposure_of.get(decision_id)
        if joined is None:
            continue
        if kind == "CLICK":
            clicked.add(joined)
        elif kind == "ORDER":
            ordered.add(joined)
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for request_id, experiments in assigned.items():
        for experiment, variant in experiments.items():
            row = counts[(experiment, variant)]
            row[0] += 1
            row[1] += request_id in clicked
            row[2] += request_id in ordered
    return [
        VariantStats(experiment, variant, *row)
        for (experiment, variant), row in sorted(counts.items())
    ]


def render(stats: list[VariantStats]) -> Table:
    table = Table(title="Experiments (95 % Wilson intervals)")
    for column in ("experiment", "variant", "exposures", "click-through", "order rate"):
        table.add_column(
            column, justify="right" if column not in ("experiment", "variant") else "left"
        )
    for row in stats:
        ctr_low, ctr_high = wilson(row.clicks, row.exposures)
        order_low, order_high = wilson(row.orders, row.exposures)
        table.add_row(
            row.experiment,
            row.variant,
            str(row.exposures),
            f"{row.ctr:.3f} [{ctr_low:.3f}, {ctr_high:.3f}]",
            f"{row.order_rate:.3f} [{order_low:.3f}, {order_high:.3f}]",
        )
    return table


# -- the CLI: python -m gateway experiments report ---------------------------------------------

experiments_app = typer.Typer(
    help="Experiments: results per variant.", no_args_is_help=True, add_completion=False
)


@experiments_app.callback()
def experiments() -> None:
    """A group, not its one command: `python -m gateway experiments report`."""


@experiments_app.command("report")
def experiments_report(
    log: Annotated[
        list[Path] | None,
        typer.Option(help="Decision log file(s); default: the configured PGW_DECISION_LOG_PATH."),
    ] = None,
) -> None:
    """Exposures, click-through and order rates per variant, with 95 % intervals."""
    from gateway.settings import Settings

    default = Settings(environment="development").decision_log_path  # a local tool
    paths = log or [p for p in [default] if p is not None]
    missing = [p for p in paths if not p.exists()]
    if not paths or missing:
        Console(stderr=True).print(
            f"[red]no decision log at {', '.join(map(str, missing or paths))}[/red]"
        )
        raise typer.Exit(code=1)
    Console().print(render(report(paths)))
