"""Marks every collected test ``unit`` or ``integration`` (see tests/support/tiers.py).

``MPP_TEST_LOOP=uvloop`` runs the async tests on uvloop (``mpp-monitor run --loop uvloop``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from tests.support.tiers import integration_modules

ROOT = Path(__file__).resolve().parent.parent


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
