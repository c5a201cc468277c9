"""The house's layering: probes/ is a leaf, and no module imports itself round a cycle."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.imports import Edge, cycles, describe, edges

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN_IN_PROBES = ("monitor", "prometheus_client")


def _forbidden(graph_root: Path) -> list[str]:
    from tests.support.imports import imported_names, modules

    found = []
    for name, (file, is_pkg) in modules(graph_root, ("probes",)).items():
        for dotted, line in imported_names(name, file, is_pkg):
            top = dotted.split(".")[0]
            if top in FORBIDDEN_IN_PROBES:
                found.append(f"{file.relative_to(graph_root)}:{line}: imports {dotted}")
    return sorted(set(found))


def test_probes_import_nothing_from_the_monitor_or_the_metrics_library() -> None:
    assert _forbidden(ROOT) == []


def test_the_probe_check_sees_function_level_and_type_checking_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "probes"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from monitor.plan import Target\n"
        "def f():\n    import prometheus_client\n"
    )
    assert _forbidden(tmp_path) == [
        "probes/a.py:3: imports monitor.plan",
        "probes/a.py:3: imports monitor.plan.Target",
        "probes/a.py:5: imports prometheus_client",
    ]


def test_no_import_cycles() -> None:
    found = cycles(edges(ROOT, ("monitor", "probes")))
    assert [describe(c, ROOT) for c in found] == []


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"__init__.py": "", "a.py": "from pkg import b\n", "b.py": "import pkg.a\n"}, 1),
        # a function-level import closes a cycle too
        (
            {
                "__init__.py": "",
                "a.py": "import pkg.b\n",
                "b.py": "def f():\n    from . import a\n",
            },
            1,
        ),
        # a package __init__ importing its submodules is not a cycle with them
        (
            {
                "__init__.py": "from pkg.a import x\n",
                "a.py": "from pkg.b import y\nx = 1\n",
                "b.py": "y = 2\n",
            },
            0,
        ),
        # but a sibling package's __init__ that imports back is
        (
            {
                "__init__.py": "",
                "a.py": "import pkg.sub.c\n",
                "sub/__init__.py": "from pkg import a\n",
                "sub/c.py": "",
            },
            1,
        ),
    ],
)
def test_the_cycle_check_finds_cycles_and_only_cycles(
    tmp_path: Path, files: dict[str, str], expected: int
) -> None:
    for rel, text in files.items():
        path = tmp_path / "pkg" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    found: list[list[Edge]] = cycles(edges(tmp_path, ("pkg",)))
    assert len(found) == expected, [describe(c, tmp_path) for c in found]


def _readme_paths(readme: str) -> list[str]:
    """Paths (folders and files of the tree) named in the README's "How it works" part."""
    import re

    part = readme.split("## How it works", 1)[1].split("\n## ", 1)[0]
    roots = "monitor|probes|alerts|dashboards|tests|bench|tools|docs|deploy|examples"
    return sorted(set(re.findall(rf"(?<![\w/.])((?:{roots})/[\w/]*(?:\.\w+)?)", part)))


def test_the_readme_diagram_names_folders_and_files_that_exist() -> None:
    named = _readme_paths((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(named) >= 10, named  # the diagram names the stages
    assert [p for p in named if not (ROOT / p).exists()] == []
    assert _readme_paths("## How it works\nmonitor/nowhere/ and probes/registry.py\n") == [
        "monitor/nowhere/",
        "probes/registry.py",
    ]
