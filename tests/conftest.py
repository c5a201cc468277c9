"""Marks every collected test ``unit`` or ``integration`` (see tests/support/tiers.py)."""

from __future__ import annotations

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
