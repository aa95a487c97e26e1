"""Where tests keep what a person should be able to look at afterwards (browser screenshots):
``var/artefacts/`` in the checkout (gitignored), or ``PGW_TEST_ARTEFACTS``; CI uploads it."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def artefact_dir(name: str) -> Path:
    """``<artefacts>/<name>/``, created."""
    base = Path(os.environ.get("PGW_TEST_ARTEFACTS") or ROOT / "var" / "artefacts")
    path = base / name
    path.mkdir(parents=True, exist_ok=True)
    return path
