"""Schema evolution: compare the live GraphQL schema with the committed snapshot.

``python -m gateway schema check`` runs :func:`check` on the live schema (``export_sdl()``)
against ``schema/schema.graphql`` with graphql-core's change detection
(``find_schema_changes``, the successor of ``find_breaking_changes`` /
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
* Every ``@deprecated`` in the live schema must give a reason (not graphql's default
  "No longer supported"), so clients know what to use instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
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
    live_sdl: str, committed_sdl: str, *, allow_deprecated_removal: bool = False
) -> CheckResult:
    """Breaking and dangerous changes from ``committed_sdl`` (old) to ``live_sdl`` (new)."""
    old, new = parse_sdl(committed_sdl), parse_sdl(live_sdl)
    changes: list[Change] = []
    for change in find_schema_changes(old, new):
        kind, text = change.type, change.description
        if isinstance(kind, BreakingChangeType):
            hint = ""
            severity = Severity.BREAKING
            if kind in _REMOVALS:
                reason = _deprecation_of_removed(old, kind, text)
                if reason is None:
                    hint = (
                        f"{REMOVE_AFTER_DEPRECATING}: mark it @deprecated(reason: …) in the "
                        "snapshot first, and remove it once no shipped client asks for it"
                    )
                elif allow_deprecated_removal:
                    severity = Severity.DANGEROUS
                    hint = f"was deprecated ({reason}); removal allowed by the caller"
                else:
                    hint = (
                        f"was deprecated ({reason}), but shipped clients may still ask for "
                        "it: once none does, rerun with --allow-deprecated-removal"
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


@schema_app.command("check")
def schema_check(
    snapshot: Annotated[Path, typer.Option(help="The committed SDL to compare with.")] = Path(
        "schema/schema.graphql"
    ),
    allow_deprecated_removal: Annotated[
        bool,
        typer.Option(
            help="Let fields the snapshot deprecated be removed (dangerous, not breaking)."
        ),
    ] = False,
) -> None:
    """Compare the live schema with the snapshot; exit 1 on a breaking change.

    Also validates the shipped client operations (schema/operations/) against the live schema.
    """
    from schema import export_sdl

    live = export_sdl()
    result = check(
        live,
        snapshot.read_text(encoding="utf-8"),
        allow_deprecated_removal=allow_deprecated_removal,
    )
    out = Console(soft_wrap=True, highlight=False)
    for change in result.changes:
        colour = "red" if change in result.breaking else "yellow"
        out.print(f"[{colour}]{escape(str(change))}[/{colour}]")
    broken = validate_operations(live)
    for name, errors in broken.items():
        for error in errors:
            out.print(f"[red]{escape(f'[breaking] shipped operation {name}: {error}')}[/red]")
    if not result.identical and result.ok:
        out.print(f"{snapshot} differs from the live schema: run `make schema` and commit it")
    summary = (
        f"{len(result.breaking)} breaking, {len(result.dangerous)} dangerous change(s); "
        f"{len(broken)} shipped operation(s) broken"
    )
    if not result.ok or broken:
        out.print(f"[red]schema check failed: {summary}[/red]")
        raise typer.Exit(code=1)
    out.print(f"[green]schema check passed: {summary}[/green]")
