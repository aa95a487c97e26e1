"""The schema gate can fail: a breaking change committed in a temporary clone (with its
snapshot rewritten, as ``make schema`` would) fails ``python -m gateway schema check``
against the last release and against the merge-base with main; a recorded change passes only
once its deprecation window is over."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from tools.schema_allowed import AllowedChange, find_allowance, load_allowed, window_hint
from tools.schema_baselines import _version_key, last_release, release_files

ROOT = Path(__file__).resolve().parents[1]
RATING = 'rating: float | None = strawberry.field(description="Average rating 0–10, if rated.")'
RATING_AS_TEXT = RATING.replace("float | None", "str | None")


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout


@dataclass
class Clone:
    path: Path

    def gateway(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``python -m gateway …`` run from the clone (its modules shadow the checkout's)."""
        return subprocess.run(
            [sys.executable, "-m", "gateway", *args],
            cwd=self.path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def commit(self, message: str) -> None:
        _git(self.path, "add", "-A")
        _git(self.path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message)


@pytest.fixture(scope="module")
def broken_clone(tmp_path_factory: pytest.TempPathFactory) -> Clone:
    """This checkout's files as a new repository's ``main``, then a branch that changes
    ``Venue.rating`` from Float to String and rewrites the snapshot."""
    path = tmp_path_factory.mktemp("clone")
    files = _git(ROOT, "ls-files", "-co", "--exclude-standard").splitlines()
    for name in files:
        source = ROOT / name
        if source.is_file():
            (path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, path / name)
    _git(path, "init", "-q", "-b", "main")
    clone = Clone(path)
    clone.commit("baseline")
    _git(path, "checkout", "-qb", "feature")
    types = path / "schema" / "types.py"
    text = types.read_text(encoding="utf-8")
    assert RATING in text
    types.write_text(text.replace(RATING, RATING_AS_TEXT), encoding="utf-8")
    exported = clone.gateway("schema", "export")
    assert exported.returncode == 0, exported.stderr
    clone.commit("Venue.rating becomes a String")
    return clone


@pytest.mark.parametrize("against", ["auto", "merge-base"])
def test_a_committed_breaking_change_fails_the_check(broken_clone: Clone, against: str) -> None:
    result = broken_clone.gateway("schema", "check", "--against", against)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FIELD_CHANGED_KIND: Field Venue.rating changed type from Float to String" in (
        result.stdout
    )
    assert "schema check failed" in result.stdout
    assert "merge-base" in result.stdout
    if against == "auto":
        assert "release 0.1.0" in result.stdout


def test_a_recorded_change_passes_only_after_its_window(broken_clone: Clone) -> None:
    allowed = broken_clone.path / "allowed.yaml"
    allowed.write_text(
        "allowed:\n"
        "  - change: FIELD_CHANGED_KIND\n"
        "    coordinate: Venue.rating\n"
        "    deprecated_since: 2026-01-01\n"
        "    remove_after: 2026-06-01\n"
        "    reason: ratings are shown as text\n",
        encoding="utf-8",
    )
    args = ("schema", "check", "--allowed-changes", str(allowed))
    early = broken_clone.gateway(*args, "--today", "2026-05-31")
    assert early.returncode == 1, early.stdout
    assert "deprecation window runs until 2026-06-01" in early.stdout
    late = broken_clone.gateway(*args, "--today", "2026-06-01")
    assert late.returncode == 0, late.stdout
    assert "allowed by schema/allowed-changes.yaml" in late.stdout


def test_the_shipped_allowed_changes_file_loads_and_the_last_release_exists() -> None:
    assert isinstance(load_allowed(), list)
    release = last_release()
    assert release is not None
    assert release.name == f"release {release_files()[-1].stem}"


def test_versions_sort_numerically() -> None:
    names = ["0.10.0", "0.9.1", "1.0.0", "0.2.0"]
    assert sorted(names, key=_version_key) == ["0.2.0", "0.9.1", "0.10.0", "1.0.0"]


def test_an_entry_matches_its_coordinate_only() -> None:
    entry = AllowedChange(
        change="FIELD_REMOVED",
        coordinate="Venue.rating",
        deprecated_since=date(2026, 1, 1),
        remove_after=date(2026, 2, 1),
        reason="r",
    )
    assert find_allowance([entry], "FIELD_REMOVED", "Field Venue.rating was removed.")
    assert not find_allowance([entry], "FIELD_REMOVED", "Field Venue.ratingCount was removed.")
    assert not find_allowance([entry], "FIELD_REMOVED", "Field MyVenue.rating was removed.")
    assert not find_allowance([entry], "FIELD_CHANGED_KIND", "Field Venue.rating changed.")
    assert window_hint(entry, date(2026, 2, 1))[0]
    assert not window_hint(entry, date(2026, 1, 31))[0]
    with pytest.raises(ValueError, match="remove_after"):
        AllowedChange(
            change="FIELD_REMOVED",
            coordinate="Venue.rating",
            deprecated_since=date(2026, 2, 1),
            remove_after=date(2026, 1, 1),
            reason="r",
        )
