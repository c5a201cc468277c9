"""The import graph of our packages, read with ``ast`` (no code is run).

Every import counts: module level, inside functions, and under ``if TYPE_CHECKING:``.
Importing ``a.b.c`` also imports the packages ``a`` and ``a.b`` (their ``__init__``), except
the importer's own parent packages, which are already being imported when it runs.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Edge:
    """One import: importer module, imported module, and where it is written."""

    importer: str
    imported: str
    file: Path
    line: int


def modules(root: Path, packages: tuple[str, ...]) -> dict[str, tuple[Path, bool]]:
    """Module name -> (file, is_package) for every .py under the given packages."""
    found: dict[str, tuple[Path, bool]] = {}
    for pkg in packages:
        for f in sorted((root / pkg).rglob("*.py")):
            parts = list(f.relative_to(root).with_suffix("").parts)
            is_pkg = parts[-1] == "__init__"
            if is_pkg:
                parts = parts[:-1]
            found[".".join(parts)] = (f, is_pkg)
    return found


def imported_names(name: str, file: Path, is_pkg: bool) -> list[tuple[str, int]]:
    """Every dotted name a module imports (absolute), with its line."""
    out: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"), str(file))):
        if isinstance(node, ast.Import):
            out.extend((a.name, node.lineno) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                mod = ".".join([*base, *([node.module] if node.module else [])])
            else:
                mod = node.module or ""
            out.append((mod, node.lineno))
            out.extend((f"{mod}.{a.name}", node.lineno) for a in node.names)
    return out


def edges(root: Path, packages: tuple[str, ...]) -> list[Edge]:
    """The import edges between modules of the given packages."""
    mods = modules(root, packages)
    found: dict[tuple[str, str], Edge] = {}
    for name, (file, is_pkg) in mods.items():
        for dotted, line in imported_names(name, file, is_pkg):
            parts = dotted.split(".")
            for i in range(1, len(parts) + 1):
                target = ".".join(parts[:i])
                if target not in mods or target == name or name.startswith(target + "."):
                    continue
                found.setdefault((name, target), Edge(name, target, file, line))
    return list(found.values())


def cycles(graph_edges: list[Edge]) -> list[list[Edge]]:
    """One cycle (as a chain of edges) per strongly connected group of modules."""
    graph: dict[str, list[Edge]] = {}
    for e in graph_edges:
        graph.setdefault(e.importer, []).append(e)
        graph.setdefault(e.imported, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for e in graph[v]:
            w = e.imported
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group: set[str] = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_chain(graph, group) for group in groups]


def _chain(graph: dict[str, list[Edge]], group: set[str]) -> list[Edge]:
    """A shortest path from the group's first module back to itself, inside the group."""
    start = min(group)
    paths: dict[str, list[Edge]] = {start: []}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for e in graph[v]:
            if e.imported not in group:
                continue
            if e.imported == start:
                return [*paths[v], e]
            if e.imported not in paths:
                paths[e.imported] = [*paths[v], e]
                queue.append(e.imported)
    return []


def describe(chain: list[Edge], root: Path) -> str:
    """``a -> b (a.py:3) -> a (b.py:7)``."""
    parts = [chain[0].importer] if chain else []
    for e in chain:
        parts.append(f"{e.imported} ({e.file.relative_to(root)}:{e.line})")
    return " -> ".join(parts)
