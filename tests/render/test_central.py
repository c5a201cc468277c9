"""`render central` and `render prometheus --remote-write/--agent`, checked with promtool.

(The five-site test against real VictoriaMetrics, vmalert and Alertmanager is tests/central.)
"""

from __future__ import annotations

import re
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


def run_rule_tests(test: dict[str, Any], tmp_path: Path) -> None:
    """Write a promtool rule-test file next to the rules and pass it through promtool."""
    path = tmp_path / "central.test.yml"
    with path.open("w") as f:
        YAML().dump(test, f)
    result = promtool("test", "rules", path.name, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


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
    run_rule_tests(test, tmp_path)


def test_summary_series_drop_the_probe_detail_and_keep_what_the_centre_reads(
    tmp_path: Path,
) -> None:
    out = tmp_path / "summary.yml"
    done = cli("render", "prometheus", "--config", str(DEMO), "--remote-write",
               "http://127.0.0.1:8428/api/v1/write", "--remote-write-series", "summary",
               "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    checked = promtool("check", "config", str(out))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    config: dict[str, Any] = YAML(typ="safe", pure=True).load(out.read_text())
    (drop,) = [r for r in config["remote_write"][0]["write_relabel_configs"]
               if r["action"] == "drop"]  # fmt: skip
    regex = re.compile(f"^(?:{drop['regex']})$")  # Prometheus anchors relabel regexes
    assert drop["source_labels"] == ["__name__"]
    for name in ("probe_success", "probe_http_duration_seconds", "mpp_target_status",
                 "mpp_probe_runs_total"):  # fmt: skip
        assert regex.match(name), name
    # the report, the ranking, MppSiteDark and the cross-site rules read these
    for name in ("up", "mpp_entity_status", "mpp_entity_fault_owner", "mpp_link_state",
                 "mpp_can_serve", "mpp_desk_status", "mpp_desk_fault_owner",
                 "mpp_site_service_open", "site_team:mpp_links_down:count", "ALERTS"):  # fmt: skip
        assert not regex.match(name), name
    full = cli("render", "prometheus", "--config", str(DEMO), "--remote-write",
               "http://127.0.0.1:8428/api/v1/write")  # fmt: skip
    assert "remote_write" in full.stdout and "drop" not in full.stdout


def test_site_dark_links_to_the_runbook_of_the_central_page(tmp_path: Path) -> None:
    def runbook_url(*extra: str) -> str:
        out = tmp_path / "rules.yml"
        done = cli("render", "central", *extra, "--out", str(out))
        assert done.returncode == 0, done.stderr
        rules: dict[str, Any] = YAML(typ="safe", pure=True).load(out.read_text())
        (dark,) = [r for g in rules["groups"] for r in g["rules"] if r.get("alert")]
        url: str = dark["annotations"]["runbook_url"]
        return url

    assert runbook_url() == "/runbook#mppsitedark"
    assert (runbook_url("--runbook-base", "https://pusat.example.go.id/mpp/")
            == "https://pusat.example.go.id/mpp/runbook#mppsitedark")  # fmt: skip
    bad = cli("render", "central", "--runbook-base", "https://u:hunter2@pusat.example/")
    assert bad.returncode == 2 and "--runbook-base" in bad.stderr
    assert "hunter2" not in bad.stdout + bad.stderr
    assert "mppsitedark" in (REPO / "monitor" / "web" / "runbook.html").read_text()


def test_cross_site_rules_count_sites_without_recording_rules(tmp_path: Path) -> None:
    """Site a sends its recording rules (server mode); site b only raw series (agent mode)."""
    rules = tmp_path / "central.yml"
    assert cli("render", "central", "--out", str(rules)).returncode == 0

    def labels(site: str, **more: str) -> str:
        pairs = {"site": site, "region": "kaltim", "agency": "ag", "team": "t", **more}
        return ", ".join(f'{k}="{v}"' for k, v in pairs.items())

    def sample(name: str, value: float, **more: str) -> dict[str, Any]:
        return {"labels": f"{name}{{{', '.join(f'{k}={v!r}' for k, v in more.items())}}}"
                .replace("'", '"'), "value": value}  # fmt: skip

    app = {"entity": "x/application/app"}
    series = [
        (f"entity:mpp_probe_success:ratio_rate5m{{{labels('a', **app)}}}", "1x20"),
        # b: 4 runs a minute, 3 of them successful
        (f"mpp_probe_runs_total{{{labels('b', **app)}}}", "0+4x20"),
        (f"mpp_probe_successes_total{{{labels('b', **app)}}}", "0+3x20"),
        (f"site_agency:mpp_counters_serving:sum{{{labels('a')}}}", "2x20"),
        (f"site_agency:mpp_counters:count{{{labels('a')}}}", "4x20"),
        (f"mpp_can_serve{{{labels('b', counter='01')}}}", "1x20"),
        (f"mpp_can_serve{{{labels('b', counter='02')}}}", "1x20"),
    ]
    site_ok = "site:mpp_probe_success:ratio_rate5m"
    serving = "site:mpp_counters_serving:ratio"
    agency = "agency:mpp_probe_success:ratio_rate5m"
    expected = [
        (site_ok, [sample(site_ok, 1, site="a", region="kaltim"),
                   sample(site_ok, 0.75, site="b", region="kaltim")]),
        (serving, [sample(serving, 0.5, site="a", region="kaltim"),
                   sample(serving, 1, site="b", region="kaltim")]),
        (agency, [sample(agency, 0.875, agency="ag")]),
    ]  # fmt: skip
    test = {
        "rule_files": [rules.name],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [{"series": s, "values": v} for s, v in series],
            "promql_expr_test": [{"expr": e, "eval_time": "15m", "exp_samples": x}
                                 for e, x in expected],
        }],
    }  # fmt: skip
    run_rule_tests(test, tmp_path)
