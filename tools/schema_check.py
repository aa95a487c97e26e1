"""Schema evolution: compare the live GraphQL schema with baselines that do not move.

``python -m gateway schema check`` runs :func:`check` on the live schema (``export_sdl()``)
against the last release (``schema/releases/<version>.graphql``) and, in a git checkout,
the snapshot at the merge-base with main (``tools/schema_baselines.py``), with graphql-core's
change detection (``find_schema_changes``, the successor of ``find_breaking_changes`` /
``find_dangerous_changes``), prints every breaking and dangerous change and exits 1 on a
breaking one. On top of graphql-core's rules it applies the deprecation policy:

* Removing a field, enum value, argument or input field that the snapshot did **not** mark
  ``@deprecated`` is breaking, and says "remove only after deprecating".
* Removing one that the snapshot **did** deprecate is still reported as breaking by default —
  apps already shipped may still ask for it. Once the owners know no shipped client uses it
  any more, ``--allow-deprecated-removal`` turns exactly those removals into dangerous
  changes (listed, not failing); anything else stays breaking. The operations catalogue
  (``schema/operations/``) is validated against the live schema separately, so a removal
  that a shipped query still uses fails regardless.
* A breaking change recorded in ``schema/allowed-changes.yaml`` (``tools/schema_allowed.py``)
  passes once its removal day has come (a dangerous change, listed); before that day it still
  fails, saying when it may ship.
* Every ``@deprecated`` in the live schema must give a reason (not graphql's default
  "No longer supported"), so clients know what to use instead.

``schema/schema.graphql`` stays the committed snapshot (``make schema`` rewrites it): the
check says when it is out of date, but never uses it as the baseline.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from graphql import (
    DEFAULT_DEPRECATION_REASON,
    GraphQLEnumType,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    parse,
    validate,
)
from graphql import build_schema as parse_sdl
from graphql.utilities import BreakingChangeType, DangerousChangeType, find_schema_changes
from rich.console import Console
from rich.markup import escape

from schema.operations import FRAGMENTS_FILE, OPERATIONS_DIR, operation_document, operation_files
from tools.schema_allowed import (
    ALLOWED_CHANGES_PATH,
    AllowedChange,
    find_allowance,
    load_allowed,
    window_hint,
)
from tools.schema_baselines import RELEASES_DIR, Baseline, last_release, merge_base

__all__ = [
    "Change",
    "CheckResult",
    "Severity",
    "check",
    "deprecations",
    "schema_app",
    "validate_operations",
]


REMOVE_AFTER_DEPRECATING = "remove only after deprecating"


class Severity(StrEnum):
    BREAKING = "breaking"
    DANGEROUS = "dangerous"


@dataclass(frozen=True)
class Change:
    """One schema change that matters to clients."""

    severity: Severity
    kind: str
    description: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"[{self.severity.value}] {self.kind}: {self.description}"
        return f"{text} — {self.hint}" if self.hint else text


@dataclass(frozen=True)
class CheckResult:
    """The changes from the committed snapshot to the live schema."""

    changes: list[Change] = field(default_factory=list)
    identical: bool = False

    @property
    def breaking(self) -> list[Change]:
        return [c for c in self.changes if c.severity is Severity.BREAKING]

    @property
    def dangerous(self) -> list[Change]:
        return [c for c in self.changes if c.severity is Severity.DANGEROUS]

    @property
    def ok(self) -> bool:
        return not self.breaking


_FIELD_REMOVED = re.compile(r"^Field (\w+)\.(\w+) was removed\.$")
_VALUE_REMOVED = re.compile(r"^Enum value (\w+)\.(\w+) was removed\.$")
_ARG_REMOVED = re.compile(r"^Argument (\w+)\.(\w+)\((\w+):\) was removed\.$")


def _deprecation_of_removed(
    schema: GraphQLSchema, kind: BreakingChangeType, text: str
) -> str | None:
    """The snapshot's deprecation reason of what a removal removed (``None``: not deprecated)."""
    if kind is BreakingChangeType.FIELD_REMOVED and (m := _FIELD_REMOVED.match(text)):
        owner = schema.type_map.get(m[1])
        if isinstance(owner, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            found = owner.fields.get(m[2])
            return found.deprecation_reason if found is not None else None
    if kind is BreakingChangeType.VALUE_REMOVED_FROM_ENUM and (m := _VALUE_REMOVED.match(text)):
        owner = schema.type_map.get(m[1])
        if isinstance(owner, GraphQLEnumType) and m[2] in owner.values:
            value_reason: str | None = owner.values[m[2]].deprecation_reason
            return value_reason
    if kind is BreakingChangeType.ARG_REMOVED and (m := _ARG_REMOVED.match(text)):
        owner = schema.type_map.get(m[1])
        if isinstance(owner, GraphQLObjectType | GraphQLInterfaceType) and m[2] in owner.fields:
            arg = owner.fields[m[2]].args.get(m[3])
            return arg.deprecation_reason if arg is not None else None
    return None


_REMOVALS = {
    BreakingChangeType.FIELD_REMOVED,
    BreakingChangeType.VALUE_REMOVED_FROM_ENUM,
    BreakingChangeType.ARG_REMOVED,
}


def deprecations(schema: GraphQLSchema) -> dict[str, str]:
    """Every deprecated field, argument, input field and enum value → its reason."""
    found: dict[str, str] = {}
    for name, named in schema.type_map.items():
        if name.startswith("__"):
            continue
        if isinstance(named, GraphQLEnumType):
            for value_name, value in named.values.items():
                if value.deprecation_reason is not None:
                    found[f"{name}.{value_name}"] = value.deprecation_reason
            continue
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, fld in named.fields.items():
                if fld.deprecation_reason is not None:
                    found[f"{name}.{field_name}"] = fld.deprecation_reason
                for arg_name, arg in fld.args.items():
                    if arg.deprecation_reason is not None:
                        found[f"{name}.{field_name}({arg_name}:)"] = arg.deprecation_reason
        elif isinstance(named, GraphQLInputObjectType):
            for field_name, input_field in named.fields.items():
                if input_field.deprecation_reason is not None:
                    found[f"{name}.{field_name}"] = input_field.deprecation_reason
    return found


def check(
    live_sdl: str,
    committed_sdl: str,
    *,
    allow_deprecated_removal: bool = False,
    allowed: Sequence[AllowedChange] = (),
    today: date | None = None,
) -> CheckResult:
    """Breaking and dangerous changes from ``committed_sdl`` (old) to ``live_sdl`` (new).

    ``allowed`` are the recorded breaking changes (``schema/allowed-changes.yaml``), judged
    on ``today`` (default: today, UTC).
    """
    old, new = parse_sdl(committed_sdl), parse_sdl(live_sdl)
    on = today or datetime.now(UTC).date()
    changes: list[Change] = []
    for change in find_schema_changes(old, new):
        kind, text = change.type, change.description
        if isinstance(kind, BreakingChangeType):
            hint = ""
            severity = Severity.BREAKING
            entry = find_allowance(list(allowed), kind.name, text)
            reason = _deprecation_of_removed(old, kind, text) if kind in _REMOVALS else ""
            if kind in _REMOVALS and reason is None:
                hint = (
                    f"{REMOVE_AFTER_DEPRECATING}: mark it @deprecated(reason: …) in a "
                    "release first, and remove it once its deprecation window is over"
                )
            elif entry is not None:
                over, hint = window_hint(entry, on)
                if over:
                    severity = Severity.DANGEROUS
            elif kind in _REMOVALS:
                if allow_deprecated_removal:
                    severity = Severity.DANGEROUS
                    hint = f"was deprecated ({reason}); removal allowed by the caller"
                else:
                    hint = (
                        f"was deprecated ({reason}), but shipped clients may still ask for "
                        "it: record it with its removal date in schema/allowed-changes.yaml"
                    )
            changes.append(Change(severity, kind.name, text, hint))
        elif isinstance(kind, DangerousChangeType):
            changes.append(Change(Severity.DANGEROUS, kind.name, text))
    for where, reason in sorted(deprecations(new).items()):
        if not reason.strip() or reason == DEFAULT_DEPRECATION_REASON:
            changes.append(
                Change(
                    Severity.BREAKING,
                    "DEPRECATION_WITHOUT_REASON",
                    f"{where} is deprecated without a reason.",
                    'say what to use instead: @deprecated(reason: "Use … instead.")',
                )
            )
    return CheckResult(changes=changes, identical=live_sdl.strip() == committed_sdl.strip())


# -- the operations catalogue ------------------------------------------------------------------


def _errors(schema: GraphQLSchema, source: str) -> list[str]:
    try:
        document = parse(source)
    except GraphQLError as exc:
        return [exc.message]
    return [e.message for e in validate(schema, document)]


def validate_operations(sdl: str, directory: Path = OPERATIONS_DIR) -> dict[str, list[str]]:
    """Validation errors of each shipped operation against the schema ``sdl``.

    Each operation is validated as the app sends it (:func:`operation_document`); then the
    whole catalogue at once, which catches a shared fragment no surface uses and two
    operations with one name. An empty dict means every shipped query still works.
    """
    schema = parse_sdl(sdl)
    found: dict[str, list[str]] = {}
    sources = []
    for path in operation_files(directory):
        sources.append(path.read_text(encoding="utf-8"))
        if errors := _errors(schema, operation_document(path, directory)):
            found[path.name] = errors
    fragments_path = directory / FRAGMENTS_FILE
    if not found and sources:
        if fragments_path.exists():
            sources.append(fragments_path.read_text(encoding="utf-8"))
        if errors := _errors(schema, "\n".join(sources)):
            found["(catalogue)"] = errors
    return found


# -- the CLI: python -m gateway schema export | check ------------------------------------------

schema_app = typer.Typer(
    help="The GraphQL schema snapshot.", no_args_is_help=True, add_completion=False
)


@schema_app.command("export")
def schema_export(
    out: Annotated[Path, typer.Option(help="Where to write the SDL.")] = Path(
        "schema/schema.graphql"
    ),
    subgraph_out: Annotated[
        Path, typer.Option(help="Where to write the Federation 2 subgraph's SDL (0020).")
    ] = Path("schema/subgraph.graphql"),
) -> None:
    """Write the live schema's SDL, and the subgraph's beside it, to the committed snapshots."""
    from schema import export_sdl
    from schema.subgraph import export_subgraph_sdl

    out.write_text(export_sdl(), encoding="utf-8")
    subgraph_out.write_text(export_subgraph_sdl(), encoding="utf-8")
    Console(stderr=True).print(f"wrote {out} and {subgraph_out}")


@schema_app.command("release")
def schema_release(
    version: Annotated[
        str | None, typer.Option(help="The version (default: the installed package's).")
    ] = None,
    directory: Annotated[Path, typer.Option(help="Where released schemas live.")] = RELEASES_DIR,
) -> None:
    """Record the live schema as released: schema/releases/<version>.graphql, the baseline
    every later change is checked against."""
    from importlib.metadata import version as installed_version

    from schema import export_sdl

    name = version or installed_version("personalisation-gateway")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.graphql"
    path.write_text(export_sdl(), encoding="utf-8")
    Console(stderr=True).print(f"wrote {path}")


def _baselines(snapshot: Path | None, against: str) -> list[Baseline]:
    if snapshot is not None:
        return [Baseline(str(snapshot), snapshot.read_text(encoding="utf-8"))]
    found: list[Baseline] = []
    if against in ("auto", "release"):
        release = last_release()
        if release is not None:
            found.append(release)
    if against in ("auto", "merge-base"):
        base = merge_base()
        same = [i for i, b in enumerate(found) if base is not None and b.sdl == base.sdl]
        if base is not None and same:
            found[same[0]] = Baseline(f"{found[same[0]].name} (= {base.name})", base.sdl)
        elif base is not None:
            found.append(base)
    return found


@schema_app.command("check")
def schema_check(
    snapshot: Annotated[
        Path | None,
        typer.Option(help="Compare with this SDL file only, instead of the baselines."),
    ] = None,
    against: Annotated[
        str,
        typer.Option(
            help="Baselines: auto (the last release, and the merge-base with main in a git "
            "checkout), release, or merge-base."
        ),
    ] = "auto",
    allowed_changes: Annotated[
        Path, typer.Option(help="Recorded breaking changes and their windows.")
    ] = ALLOWED_CHANGES_PATH,
    today: Annotated[
        str | None, typer.Option(help="Judge deprecation windows on this day (YYYY-MM-DD).")
    ] = None,
    allow_deprecated_removal: Annotated[
        bool,
        typer.Option(
            help="Let fields the baseline deprecated be removed (dangerous, not breaking)."
        ),
    ] = False,
) -> None:
    """Compare the live schema with its baselines; exit 1 on a breaking change.

    Also validates the shipped client operations (schema/operations/) against the live schema.
    """
    from schema import SDL_PATH, export_sdl

    if against not in ("auto", "release", "merge-base"):
        raise typer.BadParameter("expected auto, release or merge-base", param_hint="--against")
    live = export_sdl()
    out = Console(soft_wrap=True, highlight=False)
    baselines = _baselines(snapshot, against)
    if not baselines:
        out.print("[red]schema check failed: no baseline (schema/releases/ is empty)[/red]")
        raise typer.Exit(code=1)
    allowed = load_allowed(allowed_changes)
    day = date.fromisoformat(today) if today else None
    breaking = dangerous = 0
    for baseline in baselines:
        result = check(
            live,
            baseline.sdl,
            allow_deprecated_removal=allow_deprecated_removal,
            allowed=allowed,
            today=day,
        )
        out.print(f"against {baseline.name}: {'identical' if result.identical else 'changed'}")
        for change in result.changes:
            colour = "red" if change in result.breaking else "yellow"
            out.print(f"  [{colour}]{escape(str(change))}[/{colour}]")
        breaking += len(result.breaking)
        dangerous += len(result.dangerous)
    broken = validate_operations(live)
    for name, errors in broken.items():
        for error in errors:
            out.print(f"[red]{escape(f'[breaking] shipped operation {name}: {error}')}[/red]")
    if snapshot is None and SDL_PATH.read_text(encoding="utf-8").strip() != live.strip():
        out.print(f"{SDL_PATH.name} differs from the live schema: run `make schema` and commit it")
    summary = (
        f"{breaking} breaking, {dangerous} dangerous change(s) against "
        f"{', '.join(b.name for b in baselines)}; {len(broken)} shipped operation(s) broken"
    )
    if breaking or broken:
        out.print(f"[red]schema check failed: {summary}[/red]")
        raise typer.Exit(code=1)
    out.print(f"[green]schema check passed: {summary}[/green]")
