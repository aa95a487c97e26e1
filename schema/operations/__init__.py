"""The apps' shipped operations: one ``.graphql`` file per surface plus shared fragments.

They live next to the schema they are written against. The server preloads them (trusted
documents, the compiled path) and the schema check validates them; both read them here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from graphql import FragmentDefinitionNode, FragmentSpreadNode, Node, Visitor, parse, print_ast
from graphql import visit as visit_ast

__all__ = [
    "EXAMPLES_FILE",
    "FRAGMENTS_FILE",
    "OPERATIONS_DIR",
    "operation_document",
    "operation_examples",
    "operation_files",
]

OPERATIONS_DIR = Path(__file__).resolve().parent
FRAGMENTS_FILE = "fragments.graphql"
EXAMPLES_FILE = "examples.json"


def operation_files(directory: Path = OPERATIONS_DIR) -> list[Path]:
    """The shipped operations, one file per surface (the fragments file excluded)."""
    return sorted(p for p in directory.glob("*.graphql") if p.name != FRAGMENTS_FILE)


def operation_examples(directory: Path = OPERATIONS_DIR) -> dict[str, dict[str, Any]]:
    """Example variables of each operation file (``examples.json``; GraphiQL's tabs use
    them, and the tests run each operation with its example)."""
    path = directory / EXAMPLES_FILE
    if not path.exists():
        return {}
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {name: value for name, value in raw.items() if not name.startswith("_")}


def operation_document(path: Path, directory: Path = OPERATIONS_DIR) -> str:
    """The document an app sends for the operation in ``path``: it plus the shared fragments
    it uses, directly or through other fragments (a server rejects unused fragments)."""
    text = path.read_text(encoding="utf-8")
    fragments_path = directory / FRAGMENTS_FILE
    if not fragments_path.exists():
        return text
    shared = {
        d.name.value: d
        for d in parse(fragments_path.read_text(encoding="utf-8")).definitions
        if isinstance(d, FragmentDefinitionNode)
    }
    wanted: list[str] = []
    pending = _spreads(parse(text))
    while pending:
        name = pending.pop()
        if name in shared and name not in wanted:
            wanted.append(name)
            pending |= _spreads(shared[name])
    return "\n".join([text, *(print_ast(shared[n]) for n in sorted(wanted))]) + "\n"


def _spreads(node: Node) -> set[str]:
    found: set[str] = set()

    class Spreads(Visitor):
        def enter_fragment_spread(self, spread: FragmentSpreadNode, *_: object) -> None:
            found.add(spread.name.value)

    visit_ast(node, Spreads())
    return found
