"""`render central` and `render prometheus --remote-write/--agent`, checked with promtool.

(The five-site test against real VictoriaMetrics, vmalert and Alertmanager is tests/central.)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "demo.yaml"

pytestmark = pytest.mark.skipif(shutil.which("promtool") is None, reason="no promtool")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True, text=True, timeout=60, check=False, cwd=REPO,
    )  # fmt: skip


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["promtool", *args], capture_output=True, text=True, timeout=60, check=False, cwd=cwd
    )


def test_agent_config_remote_writes_and_has_no_rules(tmp_path: Path) -> None:
    out = tmp_path / "agent.yml"
    url = "http://127.0.0.1:8428/api/v1/write"
    done = cli("render", "prometheus", "--config", str(DEMO), "--agent",
               "--remote-write", url, "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    checked = promtool("check", "config", "--agent", str(out))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    config: dict[str, Any] = YAML(typ="safe", pure=True).load(out.read_text())
    assert [w["url"] for w in config["remote_write"]] == ["http://127.0.0.1:8428/api/v1/write"]
    assert "rule_files" not in config and "alerting" not in config
    assert config["global"]["external_labels"]["site"] == "demo"


def test_credentials_in_the_url_are_refused_without_repeating_them() -> None:
    done = cli("render", "prometheus", "--config", str(DEMO),
               "--remote-write", "http://user:hunter2@127.0.0.1:8428/api/v1/write")  # fmt: skip
    assert done.returncode != 0
    assert "hunter2" not in done.stdout + done.stderr


def test_site_dark_fires_for_the_silent_site_only_and_to_the_centre(tmp_path: Path) -> None:
    rules = tmp_path / "central.yml"
    done = cli("render", "central", "--dark-after", "5m", "--out", str(rules))
    assert done.returncode == 0, done.stderr
    assert promtool("check", "rules", str(rules)).returncode == 0
    doc: dict[str, Any] = YAML(typ="safe", pure=True).load(rules.read_text())
    dark = next(r for g in doc["groups"] for r in g["rules"] if r.get("alert") == "MppSiteDark")
    assert dark["labels"]["team"] == "pusat" and dark["labels"]["scope"] == "central"

    def annotations(site: str) -> dict[str, str]:
        return {
            k: v.replace("{{ $labels.site }}", site)
            .replace("{{ $labels.regency }}", "")
            .replace("{{ $labels.region }}", "")
            for k, v in dark["annotations"].items()
        }

    test = {
        "rule_files": [rules.name],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    # site a stops sending after 10 minutes; site b keeps sending
                    {"series": 'up{job="mpp-monitor", site="a"}', "values": "1x10"},
                    {"series": 'up{job="mpp-monitor", site="b"}', "values": "1x30"},
                ],
                "alert_rule_test": [
                    {"eval_time": "14m", "alertname": "MppSiteDark", "exp_alerts": []},
                    {
                        "eval_time": "17m",
                        "alertname": "MppSiteDark",
                        "exp_alerts": [
                            {"exp_labels": {"site": "a", **dark["labels"]},
                             "exp_annotations": annotations("a")}
                        ],
                    },
                ],
            }
        ],
    }  # fmt: skip
    path = tmp_path / "central.test.yml"
    with path.open("w") as f:
        YAML().dump(test, f)
    result = promtool("test", "rules", path.name, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
