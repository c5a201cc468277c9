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


def test_the_shared_xdist_groups_name_existing_modules() -> None:
    from tests.conftest import ROOT, SHARED_GROUPS

    missing = [m for m in SHARED_GROUPS if not (ROOT / (m.replace(".", "/") + ".py")).is_file()]
    assert SHARED_GROUPS and missing == []


def test_the_demo_modules_are_one_xdist_unit_and_others_their_own() -> None:
    from tests.conftest import group_of

    assert group_of("tests/web/test_cli.py::test_a") == group_of("tests/web/test_live.py::t[x]")
    assert group_of("tests/web/test_cli.py::test_a") == "demo-building"
    assert group_of("tests/report/test_ranking.py::C::t") == "tests/report/test_ranking.py"
