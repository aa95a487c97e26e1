"""The layout picture tells the truth (docs/architecture/layout.dot → layout.svg).

Without Graphviz: every package on disk is a node of the source, every import between
packages follows a path the picture draws, and the committed SVG was rendered from this very
source (``make diagram`` writes the source's sha256 into it). With Graphviz installed, the
source is also rendered here and must draw the same nodes as the committed SVG.
"""

from __future__ import annotations

import ast
import hashlib
import itertools
import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "docs/architecture/layout.dot"
RENDERED = ROOT / "docs/architecture/layout.svg"
SKIP_DIRS = {".venv", ".cache", "node_modules", ".git"}

_QUOTED_OR_BARE = r'"([A-Za-z_][\w.]*)"|\b([A-Za-z_][\w.]*)\b'
_NODE = re.compile(rf"^\s*(?:{_QUOTED_OR_BARE})\s*(?:\[|;)", re.MULTILINE)
_EDGE_CHAIN = re.compile(r"^\s*([^\[\n]*->[^\[\n]*?)\s*(?:\[[^\]]*\])?\s*;", re.MULTILINE)
_NAME = re.compile(_QUOTED_OR_BARE)
_KEYWORDS = {"graph", "node", "edge", "digraph", "subgraph", "label", "style"}


def packages_on_disk() -> set[str]:
    """Top-level packages, and the sub-packages of every package but the tests'."""
    found: set[str] = set()
    for top in sorted(ROOT.iterdir()):
        if top.name in SKIP_DIRS or not (top / "__init__.py").is_file():
            continue
        found.add(top.name)
        if top.name == "tests":
            continue
        for sub in sorted(top.iterdir()):
            if sub.is_dir() and (sub / "__init__.py").is_file():
                found.add(f"{top.name}.{sub.name}")
    return found


def _names(text: str) -> list[str]:
    return [quoted or bare for quoted, bare in _NAME.findall(text)]


def diagram() -> tuple[set[str], dict[str, set[str]]]:
    """The source's nodes and its edges (an edge chain ``a -> b -> {c d}`` counts each hop)."""
    text = re.sub(r"//[^\n]*", "", SOURCE.read_text())
    text = re.sub(r'label="[^"]*"', "", text)
    text = re.sub(r"\{[^}]*\}", lambda group: " ".join(group.group().split()), text)
    nodes = {q or b for q, b in _NODE.findall(text)} - _KEYWORDS
    edges: dict[str, set[str]] = defaultdict(set)
    for chain in _EDGE_CHAIN.findall(text):
        hops = [_names(part) for part in chain.split("->")]
        for sources, targets in itertools.pairwise(hops):
            for source in sources:
                edges[source].update(targets)
        nodes.update(name for hop in hops for name in hop)
    return nodes, edges


def _reachable(edges: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for target in edges.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _deepest(module: str, nodes: set[str]) -> str | None:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in nodes:
            return ".".join(parts[:n])
    return None


def imports_between_packages(nodes: set[str]) -> set[tuple[str, str, str]]:
    """(importing node, imported node, file) for every import that crosses a top-level
    package; each side is the deepest package the diagram draws."""
    crossing: set[tuple[str, str, str]] = set()
    tops = {n for n in nodes if "." not in n}
    for top in tops - {"tests"}:
        for path in (ROOT / top).rglob("*.py"):
            if SKIP_DIRS & set(path.parts):
                continue
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            source = _deepest(module, nodes)
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    imported = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    imported = [node.module]
                else:
                    continue
                for name in imported:
                    target = _deepest(name, nodes)
                    if source and target and name.split(".")[0] != top:
                        crossing.add((source, target, str(path.relative_to(ROOT))))
    return crossing


def test_every_package_on_disk_is_in_the_picture() -> None:
    nodes, _ = diagram()
    missing = packages_on_disk() - nodes
    assert not missing, f"add {sorted(missing)} to {SOURCE.relative_to(ROOT)}, then make diagram"


def test_the_picture_draws_no_package_that_is_gone() -> None:
    nodes, _ = diagram()
    gone = nodes - packages_on_disk()
    assert not gone, f"{sorted(gone)} are drawn but not on disk"


def test_every_import_follows_a_drawn_path() -> None:
    nodes, edges = diagram()
    against: list[str] = []
    for source, target, path in sorted(imports_between_packages(nodes)):
        ancestors = [".".join(source.split(".")[:n]) for n in range(source.count(".") + 1, 0, -1)]
        if not any(target in _reachable(edges, a) for a in ancestors):
            against.append(f"{path}: {source} -> {target}")
    assert not against, "imports the picture does not draw:\n" + "\n".join(against)


def test_the_svg_was_rendered_from_this_source() -> None:
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()
    assert f"layout.dot sha256: {digest}" in RENDERED.read_text(), "run make diagram"


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz not installed here")
def test_rendering_the_source_draws_the_committed_nodes() -> None:
    fresh = subprocess.run(
        ["dot", "-Tsvg", str(SOURCE)], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    titles = re.compile(r'<g id="node\d+" class="node">\s*<title>([^<]*)</title>')
    assert set(titles.findall(fresh)) == set(titles.findall(RENDERED.read_text()))
