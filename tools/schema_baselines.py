"""What the live schema is compared with: the last release, and the merge-base with main.

A snapshot that ``make schema`` rewrites cannot be a baseline — one command makes any
change pass. These baselines do not move with the change under review:

* **the last release**: ``schema/releases/<version>.graphql``, written by
  ``python -m gateway schema release`` when a version ships; the highest version is the
  contract the apps in the field were built against;
* **the merge-base with main** (in a git checkout): the committed snapshot as it was where
  the branch left main, so a branch that changes the schema and rewrites the snapshot is
  still compared with what main had.

Decision 0019.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RELEASES_DIR = ROOT / "schema" / "releases"
SNAPSHOT = "schema/schema.graphql"
MAIN_REFS = ("main", "origin/main")


@dataclass(frozen=True)
class Baseline:
    """A schema to compare with, and how to name it in the report."""

    name: str
    sdl: str


def _version_key(name: str) -> tuple[tuple[int, str], ...]:
    """Sort key of ``1.10.0`` after ``1.9.2`` (numeric parts as numbers)."""
    return tuple((int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"[.\-+]", name))


def release_files(directory: Path = RELEASES_DIR) -> list[Path]:
    """The released schemas, oldest first."""
    return sorted(directory.glob("*.graphql"), key=lambda p: _version_key(p.stem))


def last_release(directory: Path = RELEASES_DIR) -> Baseline | None:
    """The newest ``schema/releases/<version>.graphql`` (None when there is none)."""
    files = release_files(directory)
    if not files:
        return None
    return Baseline(f"release {files[-1].stem}", files[-1].read_text(encoding="utf-8"))


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def merge_base(root: Path = ROOT, refs: tuple[str, ...] = MAIN_REFS) -> Baseline | None:
    """The committed snapshot at the merge-base of ``HEAD`` and main (None outside a git
    checkout, without a main branch, or when the snapshot did not exist there)."""
    if (_git(root, "rev-parse", "--is-inside-work-tree") or "").strip() != "true":
        return None
    for ref in refs:
        if _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}") is None:
            continue
        base = (_git(root, "merge-base", "HEAD", ref) or "").strip()
        if not base:
            continue
        prefix = (_git(root, "rev-parse", "--show-prefix") or "").strip()
        sdl = _git(root, "show", f"{base}:{prefix}{SNAPSHOT}")
        if sdl is not None:
            return Baseline(f"merge-base {base[:12]} with {ref}", sdl)
    return None
