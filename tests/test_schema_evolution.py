"""Schema evolution: breaking/dangerous change detection and the deprecation policy."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli import app as cli_app
from schema import SDL_PATH, export_sdl
from tools.schema_allowed import AllowedChange
from tools.schema_check import REMOVE_AFTER_DEPRECATING, Severity, check

BASE = """
type Query {
  "A feed."
  feed(city: String!): [Venue!]!
  "Old feed."
  legacy: String
}
"A venue."
type Venue {
  "Id."
  id: ID!
  "Name."
  name: String!
  "Rating."
  rating: Float
  "Kind."
  kind: Kind!
}
"Kinds."
enum Kind { RESTAURANT SHOP }
"""


def _kinds(result: object) -> list[str]:
    return [c.kind for c in result.changes]  # type: ignore[attr-defined]


def test_identical_schemas_have_no_changes() -> None:
    result = check(BASE, BASE)
    assert result.ok
    assert result.identical
    assert result.changes == []


def test_removing_a_field_that_was_never_deprecated_is_breaking() -> None:
    live = BASE.replace('  "Name."\n  name: String!\n', "")
    result = check(live, BASE)
    assert not result.ok
    [change] = result.breaking
    assert change.kind == "FIELD_REMOVED"
    assert "Venue.name" in change.description
    assert REMOVE_AFTER_DEPRECATING in change.hint


def test_changing_a_field_type_is_breaking() -> None:
    live = BASE.replace("name: String!", "name: Int!")
    result = check(live, BASE)
    assert _kinds(result) == ["FIELD_CHANGED_KIND"]
    assert not result.ok


def test_deprecate_first_then_remove() -> None:
    deprecated = BASE.replace("legacy: String", 'legacy: String @deprecated(reason: "Use feed.")')
    removed = BASE.replace('  "Old feed."\n  legacy: String\n', "")

    step1 = check(deprecated, BASE)  # deprecating is safe
    assert step1.ok
    assert step1.breaking == []

    step2 = check(removed, deprecated)  # removal after deprecation: still breaking by default
    assert not step2.ok
    [change] = step2.breaking
    assert "was deprecated (Use feed.)" in change.hint
    assert "schema/allowed-changes.yaml" in change.hint
    assert REMOVE_AFTER_DEPRECATING not in change.hint

    allowed = check(removed, deprecated, allow_deprecated_removal=True)
    assert allowed.ok
    assert [c.severity for c in allowed.changes] == [Severity.DANGEROUS]

    skipped = check(removed, BASE, allow_deprecated_removal=True)  # never deprecated
    assert not skipped.ok
    assert REMOVE_AFTER_DEPRECATING in skipped.breaking[0].hint

    # recorded with its window: breaking until the removal day, dangerous from it
    entry = AllowedChange(
        change="FIELD_REMOVED",
        coordinate="Query.legacy",
        deprecated_since=date(2026, 1, 1),
        remove_after=date(2026, 3, 1),
        reason="use feed",
    )
    early = check(removed, deprecated, allowed=[entry], today=date(2026, 2, 28))
    assert not early.ok
    assert "runs until 2026-03-01" in early.breaking[0].hint
    due = check(removed, deprecated, allowed=[entry], today=date(2026, 3, 1))
    assert due.ok
    assert [c.severity for c in due.changes] == [Severity.DANGEROUS]
    # a record does not skip the deprecation itself
    undeprecated = check(removed, BASE, allowed=[entry], today=date(2026, 3, 1))
    assert not undeprecated.ok
    assert REMOVE_AFTER_DEPRECATING in undeprecated.breaking[0].hint


def test_removing_an_enum_value_follows_the_same_policy() -> None:
    live = BASE.replace("enum Kind { RESTAURANT SHOP }", "enum Kind { RESTAURANT }")
    result = check(live, BASE)
    assert _kinds(result) == ["VALUE_REMOVED_FROM_ENUM"]
    assert REMOVE_AFTER_DEPRECATING in result.breaking[0].hint

    deprecated = BASE.replace("SHOP }", 'SHOP @deprecated(reason: "Shops are venues.") }')
    assert check(live, deprecated, allow_deprecated_removal=True).ok


def test_adding_an_optional_argument_is_safe() -> None:
    live = BASE.replace("feed(city: String!)", "feed(city: String!, first: Int)")
    result = check(live, BASE)
    assert result.ok
    assert result.breaking == []


def test_adding_a_required_argument_is_breaking() -> None:
    live = BASE.replace("feed(city: String!)", "feed(city: String!, first: Int!)")
    result = check(live, BASE)
    assert _kinds(result) == ["REQUIRED_ARG_ADDED"]
    assert not result.ok


def test_adding_an_enum_value_is_dangerous_not_breaking() -> None:
    live = BASE.replace("RESTAURANT SHOP", "RESTAURANT SHOP GROCERY")
    result = check(live, BASE)
    assert result.ok
    assert [c.kind for c in result.dangerous] == ["VALUE_ADDED_TO_ENUM"]


def test_a_deprecation_needs_a_reason() -> None:
    live = BASE.replace("legacy: String", "legacy: String @deprecated")
    result = check(live, BASE)
    assert not result.ok
    assert result.breaking[0].kind == "DEPRECATION_WITHOUT_REASON"
    assert "Query.legacy" in result.breaking[0].description


def test_the_live_schema_has_no_breaking_change_from_the_snapshot() -> None:
    result = check(export_sdl(), SDL_PATH.read_text(encoding="utf-8"))
    assert result.ok, [str(c) for c in result.breaking]


def test_cli_schema_check_passes_on_the_real_schema() -> None:
    result = CliRunner().invoke(cli_app, ["schema", "check"])
    assert result.exit_code == 0, result.output
    assert "schema check passed" in result.output


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        # the snapshot had a field the live schema lacks: a removal without deprecation
        (
            lambda sdl: sdl.replace(
                "type Query {", 'type Query {\n  """Gone."""\n  gone: String\n', 1
            ),
            REMOVE_AFTER_DEPRECATING,
        ),
        # the snapshot's Money.amount was a String: the live Int is a type change
        (lambda sdl: sdl.replace("amount: Int!", "amount: String!", 1), "FIELD_CHANGED_KIND"),
    ],
)
def test_cli_schema_check_fails_on_breaking_changes(
    tmp_path: Path, edit: object, expected: str
) -> None:
    snapshot = tmp_path / "schema.graphql"
    snapshot.write_text(edit(SDL_PATH.read_text(encoding="utf-8")), encoding="utf-8")  # type: ignore[operator]
    result = CliRunner().invoke(cli_app, ["schema", "check", "--snapshot", str(snapshot)])
    assert result.exit_code == 1, result.output
    assert expected in result.output
    assert "schema check failed" in result.output
