"""Experiments: deterministic assignment of viewers to variants, configured in the plans file.

A viewer's variant is a pure function of (experiment salt, unit id): the same viewer always
lands in the same variant, no state is stored, and every replica agrees. Each experiment
hashes with its own salt, so layered experiments on one surface are independent. A variant
can route the ranking model (``ranking_variant``) and change the surface plan (hide
sections), so both model and product changes are A/B testable.
"""

from __future__ import annotations

from datetime import datetime

from clients.contracts.common import Surface
from resolvers.plans import Experiment, Variant

__all__ = ["Experiment", "Variant", "assignments"]


def assignments(
    experiments: tuple[Experiment, ...], surface: Surface, unit_id: str | None, now: datetime
) -> dict[str, Variant]:
    """The variant of every running experiment on ``surface`` for this unit (none without a
    unit: anonymous viewers without a device id are not experimented on)."""
    if unit_id is None:
        return {}
    return {
        e.name: e.assign(unit_id) for e in experiments if e.surface is surface and e.running(now)
    }
