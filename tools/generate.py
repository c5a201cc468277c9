"""Regenerate the committed generated files (alert rules, dashboards); --check fails on drift.

Each generator is a module exposing ``render() -> dict[str, str]`` (repo-relative path ->
file text). Generators: ``alerts/build.py`` and ``dashboards/build.py``.
"""

from __future__ import annotations

import argparse
import difflib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
GENERATORS = ("alerts/build.py", "dashboards/build.py")


def _load(rel: str) -> ModuleType | None:
    path = ROOT / rel
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location(rel.replace("/", "_")[:-3], path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def main() -> int:
    """Write (or with --check compare) every generated file."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--check", action="store_true", help="fail if a committed file differs")
    args = ap.parse_args()
    drift = 0
    for rel in GENERATORS:
        module = _load(rel)
        if module is None:
            continue
        for out, text in sorted(module.render().items()):
            path = ROOT / out
            old = path.read_text(encoding="utf-8") if path.exists() else ""
            if old == text:
                continue
            if args.check:
                drift += 1
                diff = difflib.unified_diff(
                    old.splitlines(),
                    text.splitlines(),
                    f"committed/{out}",
                    f"generated/{out}",
                    lineterm="",
                    n=1,
                )
                print("\n".join(list(diff)[:40]), file=sys.stderr)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
                print(f"wrote {out}")
    if drift:
        print(
            f"generate: {drift} generated file(s) differ: run `python tools/generate.py`",
            file=sys.stderr,
        )
        return 1
    print("generate: all generated files up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
