"""Property: any document of a known denial-of-service class gets a coded refusal or a
bounded answer, within a bounded CPU time (a short run of ``make fuzz``'s campaign)."""

from __future__ import annotations

import pytest

from tests.security.campaign import CLASSES, CODES, CPU_BOUND_MS, Gatekeeper, Outcome, run_class

KEEPER = Gatekeeper()


def _bounded(outcome: Outcome) -> None:
    assert outcome.code is None or outcome.code in CODES, outcome
    assert outcome.cpu_ms < CPU_BOUND_MS, outcome


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_hostile_documents_are_refused_or_bounded(name: str) -> None:
    row = run_class(KEEPER, name, examples=12, check=_bounded)
    assert row.tried >= 1
