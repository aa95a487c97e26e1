"""``clients/`` knows nothing of GraphQL, FastAPI or the packages above it."""

import ast
from pathlib import Path

import pytest

CLIENTS = Path(__file__).resolve().parents[2] / "clients"
FORBIDDEN = {"gateway", "schema", "resolvers", "backends", "strawberry", "fastapi", "starlette"}


@pytest.mark.parametrize(
    "path", sorted(CLIENTS.rglob("*.py")), ids=lambda p: str(p.relative_to(CLIENTS))
)
def test_no_forbidden_imports(path: Path) -> None:
    tree = ast.parse(path.read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert not imported & FORBIDDEN
