"""Marks every collected test ``unit`` or ``integration`` (see tests/support/tiers.py), and
says how pytest-xdist groups tests on its workers (``./tasks test`` runs ``-n auto``).

``MPP_TEST_LOOP=uvloop`` runs the async tests on uvloop (``mpp-monitor run --loop uvloop``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.support.tiers import integration_modules

ROOT = Path(__file__).resolve().parent.parent

# Modules that run the demo building's simulator (it binds the demo inventory's fixed
# loopback addresses and ports) or probe those addresses: one worker runs them in turn.
# Every other module is a group of its own: a module's tests stay on one worker, so a module
# fixture (a Prometheus, five sites) starts once.
SHARED_GROUPS: dict[str, str] = {
    name: "demo-building"
    for name in (
        "tests.web.test_cli",
        "tests.web.test_browser",
        "tests.web.test_live",
        "tests.web.test_simulate",
        "tests.dashboards.test_queries_live",
        "tests.notify.test_notify_process",
        "tests.e2e.test_offline_path",
    )
}


def group_of(nodeid: str) -> str:
    """The xdist work unit of a test: its module's group, else its module file."""
    path = nodeid.split("::", 1)[0]
    return SHARED_GROUPS.get(path.removesuffix(".py").replace("/", "."), path)


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Send each group whole to one worker. (xdist's own ``loadgroup`` reads a suffix of
    ``item._nodeid`` that pytest 9 no longer reports, so the grouping is done here.)"""
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

    return GroupScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Add the tier marker to each test."""
    heavy = integration_modules(ROOT)
    for item in items:
        module = getattr(item, "module", None)
        name = module.__name__ if module is not None else ""
        slow = item.get_closest_marker("slow") or item.get_closest_marker("netns")
        tier = "integration" if slow or name in heavy else "unit"
        item.add_marker(getattr(pytest.mark, tier))


if os.environ.get("MPP_TEST_LOOP") == "uvloop":  # defined only then: the hook may not say "default"

    def pytest_asyncio_loop_factories(
        config: pytest.Config, item: pytest.Item
    ) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
        """Every async test on uvloop."""
        import uvloop

        return {"uvloop": uvloop.new_event_loop}
