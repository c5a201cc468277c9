"""Regenerate the committed generated files (alert rules, dashboards); --check fails on drift.

Each generator is a module exposing ``render() -> dict[str, str]`` (repo-relative path ->
file text). Generators: ``alerts.build``, ``dashboards.build`` and ``tools/runbook_page.py``
(docs/runbook.md -> the page the monitor serves at /runbook).
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as `python tools/generate.py`: the packages live in ROOT
    sys.path.insert(0, str(ROOT))

from alerts import build as alerts_build  # noqa: E402
from dashboards import build as dashboards_build  # noqa: E402
from tools import runbook_page  # noqa: E402

GENERATORS = (alerts_build, dashboards_build, runbook_page)


def main() -> int:
    """Write (or with --check compare) every generated file."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--check", action="store_true", help="fail if a committed file differs")
    args = ap.parse_args()
    drift = 0
    for module in GENERATORS:
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
