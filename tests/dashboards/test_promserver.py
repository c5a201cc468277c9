"""The reusable Prometheus fixture: starts on loopback, stops on exit, reports bad configs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dashboards.promserver import PrometheusError, start_prometheus

SELF_SCRAPE = "global:\n  evaluation_interval: 1s\n"


def test_runs_on_loopback_and_stops_on_exit(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(
        "groups:\n  - name: t\n    rules:\n      - record: mpp_test:one\n        expr: vector(1)\n",
        encoding="utf-8",
    )
    with start_prometheus(SELF_SCRAPE, rule_files=[rules]) as prom:
        assert prom.url.startswith("http://127.0.0.1:")
        assert prom.query("vector(42)")[0]["value"][1] == "42"
        # The rule file was loaded: its recording rule produces a series.
        result = prom.wait_for("mpp_test:one", timeout=20)
        assert result[0]["value"][1] == "1"
        process = prom.process
    assert process.poll() is not None, "prometheus still running after the with block"


def test_stops_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError, match="boom"), start_prometheus(SELF_SCRAPE) as prom:
        process = prom.process
        raise RuntimeError("boom")
    assert process.poll() is not None


def test_bad_config_fails_with_the_log() -> None:
    with (
        pytest.raises(PrometheusError, match=r"(?s)exited with .*field no_such_key"),
        start_prometheus("global:\n  no_such_key: 1\n"),
    ):
        pass


def test_rule_files_twice_is_refused(tmp_path: Path) -> None:
    with (
        pytest.raises(ValueError, match="not both"),
        start_prometheus("rule_files: []\n", rule_files=[tmp_path / "x.yml"]),
    ):
        pass
