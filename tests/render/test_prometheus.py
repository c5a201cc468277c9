"""The rendered prometheus.yml passes the real `promtool check config`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.render.test_alertmanager import INVENTORY

promtool = shutil.which("promtool")
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(promtool is None, reason="promtool (Debian package prometheus) missing")
def test_rendered_prometheus_config_is_valid(tmp_path: Path) -> None:
    assert promtool is not None
    inv = tmp_path / "inv.yaml"
    inv.write_text(INVENTORY)
    rules = tmp_path / "rules.yml"
    rules.write_text("groups: []\n")
    out = tmp_path / "prometheus.yml"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "monitor",
            "render",
            "prometheus",
            "--config",
            str(inv),
            "--monitor",
            "127.0.0.1:9469",
            "--alertmanager",
            "127.0.0.1:9093",
            "--rules",
            str(rules),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert "job_name: mpp-monitor" in text and "127.0.0.1:9469" in text
    check = subprocess.run(
        [promtool, "check", "config", str(out)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_bad_inventory_is_reported_not_rendered(tmp_path: Path) -> None:
    inv = tmp_path / "inv.yaml"
    inv.write_text("sites: [{id: Bad Id, name: x, teams: [{id: k, name: k}]}]\n")
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", "render", "alertmanager", "--config", str(inv)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert f"{inv}:1:" in proc.stderr and "sites[0].id: invalid id 'Bad Id'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_monitor_alerts_reach_the_network_team(tmp_path: Path) -> None:
    from monitor.inventory import load_config
    from monitor.render.prometheus import prometheus_config

    inv = tmp_path / "inv.yaml"
    inv.write_text(INVENTORY)
    cfg = prometheus_config(
        load_config(inv).inventory,
        monitor_targets=["127.0.0.1:9469"],
        alertmanager=["127.0.0.1:9093"],
        rule_files=[],
    )
    # MppMonitorDown & co. take site/team from here (alerts/mpp-rules.yml)
    assert cfg["global"]["external_labels"] == {"site": "paser", "team": "kominfo"}
