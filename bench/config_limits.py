"""How long check-config takes to refuse hostile files, and to accept the real building.

Prints one line per case: wall seconds and peak RSS of ``python -m monitor check-config`` as a
separate process (start-up included), its exit status and the first line it printed. Files are
written to a temporary directory and removed afterwards; nothing is contacted.

    .venv/bin/python bench/config_limits.py
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CASES: dict[str, Callable[[], str]] = {
    "examples/mpp-paser.yaml (accepted)": lambda: (ROOT / "examples/mpp-paser.yaml").read_text(),
    "16 MB file of tiny values": lambda: "sites: [" + "1," * 8_000_000 + "1]\n",
    "3 MB, 1.5 million tiny values": lambda: "sites: [" + "1," * 1_500_000 + "1]\n",
    "600-deep flow list": lambda: "sites: " + "[" * 600 + "]" * 600 + "\n",
    "500-deep flow mapping": lambda: "sites: " + "{a: " * 500 + "1" + "}" * 500 + "\n",
    "4 MB single plain scalar": lambda: "sites: " + "x " * 2_000_000 + "\n",
    "4 MB of comments": lambda: ("# " + "x" * 60 + "\n") * 65_000 + "sites: 1\n",
}


def _run(path: Path) -> tuple[float, int, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", "check-config", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    wall = time.perf_counter() - t0
    first = (proc.stderr or proc.stdout).splitlines()[0] if (proc.stderr or proc.stdout) else ""
    return wall, proc.returncode, first.replace(str(path), "FILE")


def main() -> None:
    """Run every case once and print its figures."""
    print(f"{'case':<38}{'seconds':>8}{'exit':>6}  first line")
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in CASES.items():
            path = Path(tmp) / "inventory.yaml"
            path.write_text(make(), encoding="utf-8")
            wall, rc, first = _run(path)
            print(f"{name:<38}{wall:>8.2f}{rc:>6}  {first[:100]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS of the largest check-config run: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
