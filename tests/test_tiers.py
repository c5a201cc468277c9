"""The tier split (tests/support/tiers.py) puts real components in the integration tier."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.tiers import integration_modules

ROOT = Path(__file__).resolve().parent.parent


def test_modules_starting_real_processes_are_integration_and_pure_ones_unit() -> None:
    heavy = integration_modules(ROOT)
    # Runs promtool itself; imports a helper that starts Prometheus; builds namespaces.
    assert {
        "tests.alerts.test_alert_rules",
        "tests.dashboards.test_queries",
        "tests.e2e.test_topology",
    } <= heavy
    assert not {"tests.runtime.test_state", "tests.report.test_spans", "tests.test_tiers"} & heavy


def test_every_test_gets_exactly_one_tier(request: pytest.FixtureRequest) -> None:
    items = request.session.items
    assert items
    for item in items:
        tiers = {m.name for m in item.iter_markers() if m.name in ("unit", "integration")}
        assert len(tiers) == 1, (item.nodeid, tiers)
