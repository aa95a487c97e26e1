"""Breaking schema changes accepted on purpose, each with its deprecation window.

``schema/allowed-changes.yaml`` lists them: the change's kind (graphql-core's name, e.g.
``FIELD_REMOVED``), the schema coordinate it concerns (``Venue.rating``,
``Query.discovery(location:)``, ``SectionSource.STALE``), the day the deprecation was
announced, the day from which the change may ship, and why. The schema check lets a breaking
change through only when an entry matches it **and** its removal day has come; before that
day the check still fails and says when it may ship. Removing something the baseline did not
mark ``@deprecated`` stays breaking whatever the file says: the window starts with a
deprecation clients can see. Decision 0019.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

ALLOWED_CHANGES_PATH = Path(__file__).resolve().parents[1] / "schema" / "allowed-changes.yaml"


class AllowedChange(BaseModel):
    """One accepted breaking change and its window."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    change: str = Field(description="graphql-core's BreakingChangeType name.")
    coordinate: str = Field(description="The schema coordinate, e.g. Venue.rating.")
    deprecated_since: date
    remove_after: date
    reason: str = Field(min_length=1)

    @model_validator(mode="after")
    def _window(self) -> AllowedChange:
        if self.remove_after <= self.deprecated_since:
            raise ValueError("remove_after must come after deprecated_since")
        return self

    def matches(self, kind: str, description: str) -> bool:
        """Whether this entry is about the change ``kind`` described by ``description``."""
        if kind != self.change:
            return False
        pattern = rf"(?<![\w.]){re.escape(self.coordinate)}(?![\w(])"
        return re.search(pattern, description) is not None


def load_allowed(path: Path = ALLOWED_CHANGES_PATH) -> list[AllowedChange]:
    """The entries of ``path`` (none when the file is absent)."""
    if not path.exists():
        return []
    raw: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    entries = raw.get("allowed") or [] if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a mapping with an 'allowed' list")
    return [AllowedChange.model_validate(entry) for entry in entries]


def find_allowance(
    allowed: list[AllowedChange], kind: str, description: str
) -> AllowedChange | None:
    """The entry that covers this change, if any."""
    return next((entry for entry in allowed if entry.matches(kind, description)), None)


def window_hint(entry: AllowedChange, today: date) -> tuple[bool, str]:
    """Whether the entry's window is over on ``today``, and what to tell the developer."""
    if today >= entry.remove_after:
        return True, (
            f"allowed by schema/allowed-changes.yaml: deprecated since "
            f"{entry.deprecated_since}, removable from {entry.remove_after} ({entry.reason})"
        )
    return False, (
        f"recorded in schema/allowed-changes.yaml, but its deprecation window runs until "
        f"{entry.remove_after}: it may ship from that day"
    )
