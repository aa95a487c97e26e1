"""The house's layout: the server package holds the server, the tools live apart.

``python -m gateway`` is the one command line, but a tool's module (and what it imports,
such as pact-python) is loaded only when its command runs: ``serve`` must not pay for them,
and the runtime image must not need them.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from typer.testing import CliRunner

from gateway.cli import TOOL_COMMANDS, app

ROOT = Path(__file__).resolve().parents[1]

# Build the app as ``serve`` does, resolve the server's own commands through the CLI group,
# and report which modules of the tools (and their heavy imports) got loaded.
SERVE_PATH = """
import json, sys
import typer
from gateway import cli
from gateway.app import create_app
from gateway.settings import Settings
create_app(Settings(environment="development"))
group = typer.main.get_command(cli.app)
ctx = group.make_context("gateway", ["serve", "--help"], resilient_parsing=True)
for name in ("serve", "demo", "token", "config"):
    assert group.get_command(ctx, name) is not None, name
loaded = [m for m in sys.modules if m == "tools" or m.startswith(("tools.", "pact"))]
print(json.dumps(sorted(loaded)))
"""


def test_serve_path_imports_none_of_the_tools() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SERVE_PATH],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == []


def test_each_tool_command_is_reached_through_the_gateway_cli() -> None:
    runner = CliRunner()
    listing = runner.invoke(app, ["--help"])
    assert listing.exit_code == 0, listing.output
    for name in TOOL_COMMANDS:
        assert name in listing.output
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert "Usage" in result.output


def test_the_wheel_ships_every_package_the_cli_reaches() -> None:
    """``python -m gateway <tool>`` works from the installed wheel, not only a checkout."""
    wheel = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = set(wheel["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"])
    reached = {target.partition(".")[0] for target in TOOL_COMMANDS.values()}
    assert reached | {"gateway", "schema", "resolvers", "clients"} <= packages


def test_shipped_operations_live_next_to_the_schema() -> None:
    from schema import SDL_PATH
    from schema.operations import OPERATIONS_DIR, operation_files

    assert OPERATIONS_DIR.parent == SDL_PATH.parent
    assert operation_files(), "no shipped operations found"


FIGURE = re.compile(r"[~≈]\s?\d[\d.,]*\s?(?:ms|µs|s|%|×|KB|MB)(?!\w)|\d\s?×")


def test_no_docstring_quotes_a_measured_figure() -> None:
    """Figures live in decisions and committed results, not in docstrings (decision 0015)."""
    quoted: list[str] = []
    for package in ("gateway", "schema", "resolvers", "clients", "tools", "backends"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "node_modules" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(
                    node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
                ):
                    continue
                doc = ast.get_docstring(node) or ""
                quoted += [f"{path.relative_to(ROOT)}: {m.group()}" for m in FIGURE.finditer(doc)]
    assert not quoted, "move these figures to a decision or a results file:\n" + "\n".join(quoted)
