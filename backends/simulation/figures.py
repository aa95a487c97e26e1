"""The simulation's figure: cumulative regret and best-arm share over impressions, per
policy, live (solid) and in process (dashed). Written by ``python -m backends simulate``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

COLOURS = {"hierarchical": "tab:blue", "flat": "tab:orange", "uniform": "tab:grey"}


def plot(results: Mapping[str, Any], path: Path) -> Path:
    fig, (regret, share) = plt.subplots(1, 2, figsize=(12, 4.5))
    for mode, style in (("live", "-"), ("inprocess", "--")):
        for policy, run in results.get(mode, {}).items():
            label = f"{policy} ({'live, HTTP' if mode == 'live' else 'in process'})"
            colour = COLOURS.get(policy, "black")
            regret.plot(run["at"], run["cumulative_regret"], style, color=colour, label=label)
            share.plot(run["at"], run["best_arm_share"], style, color=colour, label=label)
    target = results.get("targets", {}).get("best_arm_share", 0.9)
    share.axhline(target, color="red", linewidth=0.8, linestyle=":", label=f"target {target:.0%}")
    regret.set(title="Cumulative regret", xlabel="impressions", ylabel="clicks lost vs best arm")
    share.set(
        title=f"Best arm's share (last {results['window']} impressions)",
        xlabel="impressions",
        ylabel="share of impressions",
        ylim=(0, 1.02),
    )
    for axis in (regret, share):
        axis.grid(alpha=0.3)
    share.legend(fontsize=7, loc="lower right")
    fig.suptitle(results.get("title", "learning-loop simulation"), fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
