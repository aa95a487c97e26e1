"""``python -m gateway operations manifest``: the shipped operations as a persisted-document
manifest (``{"<sha256>": "<document>"}``, graphql-codegen's ``persisted-documents.json`` and
Relay's format), for clients that send ``documentId`` and for servers that load it
(``PGW_PERSISTED_DOCUMENTS``). Decision 0019."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from gateway.document_manifest import export_manifest

operations_app = typer.Typer(
    help="The apps' shipped operations.", no_args_is_help=True, add_completion=False
)


@operations_app.callback()
def _operations() -> None:
    """The apps' shipped operations (schema/operations/)."""


@operations_app.command("manifest")
def manifest(
    out: Annotated[
        Path | None, typer.Option(help="Write it here (default: standard output).")
    ] = None,
) -> None:
    """Export the shipped operations as a persisted-document manifest (sha256 → document)."""
    from gateway.compiled.serving import shipped_documents

    text = json.dumps(export_manifest(shipped_documents()), indent=2, sort_keys=True) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}", err=True)
