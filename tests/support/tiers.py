"""The two test tiers, decided from the code rather than from a list kept by hand.

A test is in the **integration** tier when it is marked ``slow`` or ``netns``, or when its
module, or any ``tests.*`` helper module it imports (directly or not), starts real
processes or network namespaces: Prometheus, promtool, Alertmanager, amtool, Chromium,
``mpp-monitor`` itself, ``ip netns``. Everything else is the **unit** tier: in-process, on
loopback sockets at most, a few seconds in all.

    ./tasks test -m unit           # the fast tier
    ./tasks test -m integration    # the real components
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.imports import edges, modules

# What starts a real process or namespace, as written in our tests.
REAL_PARTS = re.compile(r"\bsubprocess\b|create_subprocess_exec|\bip netns\b|\bNetns\b")


def integration_modules(root: Path) -> set[str]:
    """Names of the ``tests.*`` modules whose tests belong to the integration tier."""
    mods = modules(root, ("tests",))
    heavy = {
        name
        for name, (file, _) in mods.items()
        if name != __name__ and REAL_PARTS.search(file.read_text(encoding="utf-8"))
    }
    importers: dict[str, set[str]] = {}
    for e in edges(root, ("tests",)):
        importers.setdefault(e.imported, set()).add(e.importer)
    todo = list(heavy)
    while todo:
        for importer in importers.get(todo.pop(), ()):
            if importer not in heavy:
                heavy.add(importer)
                todo.append(importer)
    return heavy
