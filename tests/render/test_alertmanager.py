"""The rendered alertmanager.yml, checked by the real amtool: each team's alerts reach that
team's receiver and no other."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.inventory import load_config, load_plan
from monitor.render.alertmanager import RenderOptions, alertmanager_config, render_alertmanager

ROOT = Path(__file__).resolve().parents[2]
PASER = ROOT / "examples" / "mpp-paser.yaml"

INVENTORY = """\
sites:
  - id: paser
    name: MPP Paser
    teams:
      - id: kominfo
        name: Diskominfo
        channels:
          - {kind: telegram, chat_id: "-100123", token: {env: TG_TOKEN}}
      - id: it-bpjs
        name: IT BPJS
        channels:
          - {kind: waha, chat_id: "6281111112222", base_url: "http://127.0.0.1:3000",
             api_key: {env: WAHA_KEY}}
      - id: it-dukcapil
        name: IT Dukcapil
        channels: [{kind: email, to: it@dukcapil.example.id}]
      - id: dpmptsp
        name: DPMPTSP
    closed_days: {holidays: ID, extra: [2026-12-24]}
    links:
      - {id: isp-a, name: ISP A, anchors: [192.0.2.1]}
    agencies:
      - {id: bpjs, name: BPJS, team: it-bpjs}
      - {id: dukcapil, name: Dukcapil, team: it-dukcapil}
  - id: tanagrogot
    name: MPP Tanah Grogot annex
    teams:
      - id: kominfo
        name: Diskominfo
        channels: [{kind: webhook, url: "http://127.0.0.1:9999/hook"}]
"""

amtool = shutil.which("amtool")
needs_amtool = pytest.mark.skipif(amtool is None, reason="amtool (prometheus-alertmanager) missing")


@pytest.fixture
def am_file(tmp_path: Path) -> Path:
    inv = tmp_path / "inv.yaml"
    inv.write_text(INVENTORY)
    out = tmp_path / "alertmanager.yml"
    status = subprocess.run(
        [
            sys.executable,
            "-m",
            "monitor",
            "render",
            "alertmanager",
            "--config",
            str(inv),
            "--out",
            str(out),
            "--holiday-years",
            "2026",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert status.returncode == 0, status.stderr
    return out


def routes_test(am: Path, *labels: str) -> list[str]:
    assert amtool is not None
    proc = subprocess.run(
        [amtool, "config", "routes", "test", f"--config.file={am}", *labels],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return sorted(proc.stdout.strip().split(","))


@needs_amtool
def test_check_config_clean(am_file: Path) -> None:
    proc = subprocess.run([amtool, "check-config", str(am_file)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


CASES = [
    # (labels, the only receiver that may get it)
    (["site=paser", "team=kominfo", "severity=critical", "alertname=MppLinkDown"], "paser-kominfo"),
    (
        ["site=paser", "team=kominfo", "severity=critical", "alertname=MppSiteOffline"],
        "paser-kominfo",
    ),
    (
        ["site=paser", "team=kominfo", "severity=warning", "alertname=MppLinkDegraded"],
        "paser-kominfo",
    ),
    (
        ["site=paser", "team=it-bpjs", "severity=critical", "alertname=MppApplicationDown"],
        "paser-it-bpjs",
    ),
    (
        ["site=paser", "team=it-bpjs", "severity=warning", "alertname=MppCounterDeviceDown"],
        "paser-it-bpjs",
    ),
    (
        ["site=paser", "team=it-dukcapil", "severity=critical", "alertname=MppApplicationDown"],
        "paser-it-dukcapil",
    ),
    (
        ["site=paser", "team=dpmptsp", "severity=info", "alertname=MppConfigReloadFailed"],
        "paser-dpmptsp",
    ),
    (
        ["site=tanagrogot", "team=kominfo", "severity=critical", "alertname=MppLinkDown"],
        "tanagrogot-kominfo",
    ),
    # the dead man's switch goes only to the heartbeat receiver, never to a team
    (["site=paser", "team=kominfo", "severity=info", "alertname=MppWatchdog"], "heartbeat"),
    # the monitor's own alerts take the path that needs no prober (e-mail, the notifier)
    (
        ["site=paser", "team=kominfo", "severity=critical", "alertname=MppMonitorDown"],
        "paser-kominfo-monitor",
    ),
    (
        ["site=tanagrogot", "team=kominfo", "severity=critical", "alertname=MppNotifierDown"],
        "tanagrogot-kominfo-monitor",
    ),
    # unknown team or site: the site's fallback team (Kominfo), never a blackhole
    (["site=paser", "team=nobody", "severity=critical"], "paser-unknown-team"),
    (["site=paser", "team=nobody", "severity=info"], "paser-unknown-team"),
    (["site=paser", "severity=warning"], "paser-unknown-team"),
    (["site=tanagrogot", "team=it-bpjs", "severity=critical"], "tanagrogot-unknown-team"),
    (["site=elsewhere", "team=kominfo", "severity=critical"], "paser-unknown-team"),
]


@needs_amtool
@pytest.mark.parametrize(("labels", "receiver"), CASES, ids=[c[1] + ":" + c[0][1] for c in CASES])
def test_each_team_reaches_only_its_receiver(
    am_file: Path, labels: list[str], receiver: str
) -> None:
    assert routes_test(am_file, *labels) == [receiver]


def test_receivers_use_notifier_webhook_and_email(tmp_path: Path) -> None:
    inv = tmp_path / "inv.yaml"
    inv.write_text(INVENTORY)
    cfg = alertmanager_config(
        load_config(inv).inventory,
        RenderOptions(notifier_url="http://127.0.0.1:9469/", holiday_years=(2026,)),
    )
    recs = {r["name"]: r for r in cfg["receivers"]}
    assert recs["paser-kominfo"]["webhook_configs"][0]["url"] == (
        "http://127.0.0.1:9469/api/v1/alerts/webhook/kominfo?site=paser"
    )
    assert recs["paser-it-bpjs"]["webhook_configs"][0]["send_resolved"] is True
    # An e-mail-only team goes through the notifier too (its Indonesian text, its severities):
    # Alertmanager's stock English e-mail is never used for a team's alerts.
    assert recs["paser-it-dukcapil"]["webhook_configs"][0]["url"] == (
        "http://127.0.0.1:9469/api/v1/alerts/webhook/it-dukcapil?site=paser"
    )
    assert "email_configs" not in recs["paser-it-dukcapil"]
    # tokens are referenced by environment variable: they never reach the rendered file
    text = render_alertmanager(load_config(inv).inventory)
    assert "TG_TOKEN" not in text and "WAHA_KEY" not in text


def test_heartbeat_and_monitor_receivers(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text(INVENTORY)
    inv = load_config(path).inventory
    bare = alertmanager_config(inv, RenderOptions())
    receivers = {r["name"]: r for r in bare["receivers"]}
    assert receivers["heartbeat"] == {"name": "heartbeat"}  # no URL: it goes nowhere
    cfg = alertmanager_config(
        inv,
        RenderOptions(
            heartbeat_url="https://hc.example.id/ping/paser", notifier_url="http://n:9470"
        ),
    )
    receivers = {r["name"]: r for r in cfg["receivers"]}
    assert receivers["heartbeat"]["webhook_configs"] == [
        {"url": "https://hc.example.id/ping/paser", "send_resolved": False, "max_alerts": 1}
    ]
    first = cfg["route"]["routes"][0]
    assert first["matchers"] == ['alertname="MppWatchdog"']
    assert (first["repeat_interval"], first["group_wait"], first["continue"]) == ("1m", "0s", False)
    monitor = receivers["paser-kominfo-monitor"]
    assert monitor["webhook_configs"][0]["url"] == (
        "http://n:9470/api/v1/alerts/webhook/kominfo?site=paser"
    )


def test_off_hours_and_closed_days(tmp_path: Path) -> None:
    inv = tmp_path / "inv.yaml"
    inv.write_text(INVENTORY)
    cfg = alertmanager_config(load_config(inv).inventory, RenderOptions(holiday_years=(2026,)))
    intervals = {t["name"]: t["time_intervals"] for t in cfg["time_intervals"]}
    hours = intervals["paser-service-hours"]
    assert [h["weekdays"] for h in hours] == [
        ["monday"],
        ["tuesday"],
        ["wednesday"],
        ["thursday"],
        ["friday"],
    ]
    assert hours[0]["times"] == [{"start_time": "08:00", "end_time": "16:00"}]
    assert hours[0]["location"] == "Asia/Makassar"
    closed = intervals["paser-closed-days"]
    # Independence Day and the extra closed date are there
    assert {
        "years": ["2026"],
        "months": ["august"],
        "days_of_month": ["17"],
        "location": "Asia/Makassar",
    } in closed
    assert {
        "years": ["2026"],
        "months": ["december"],
        "days_of_month": ["24"],
        "location": "Asia/Makassar",
    } in closed
    (site_route,) = [r for r in cfg["route"]["routes"] if r["matchers"] == ['site="paser"']]
    kominfo = site_route["routes"][0]
    assert kominfo["routes"][0] == {
        "matchers": ['severity="critical"'],
        "receiver": "paser-kominfo",
    }
    assert kominfo["routes"][1]["active_time_intervals"] == ["paser-service-hours"]
    assert kominfo["routes"][1]["mute_time_intervals"] == ["paser-closed-days"]


def test_site_offline_inhibits_internet_dependent_alerts(tmp_path: Path) -> None:
    inv = tmp_path / "inv.yaml"
    inv.write_text(INVENTORY)
    cfg = alertmanager_config(load_config(inv).inventory)
    rule = next(
        r for r in cfg["inhibit_rules"] if r["source_matchers"] == ['alertname="MppSiteOffline"']
    )
    assert rule["equal"] == ["site"]  # always set: FIELD-NOTES, missing labels compare equal
    assert "MppApplicationDown" in rule["target_matchers"][0]
    for r in cfg["inhibit_rules"]:
        assert "site" in r["equal"]


@needs_amtool
@pytest.mark.skipif(not PASER.exists(), reason="examples/mpp-paser.yaml not written yet")
def test_paser_example_renders_clean(tmp_path: Path) -> None:
    out = tmp_path / "am.yml"
    out.write_text(render_alertmanager(load_config(PASER).inventory))
    proc = subprocess.run([amtool, "check-config", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    site = load_plan(PASER).sites[0]
    for team in site.teams:
        got = routes_test(out, "site=" + site.id, "team=" + team.id, "severity=critical")
        assert got == [f"{site.id}-{team.id}"]


@needs_amtool
@pytest.mark.parametrize("severity", ["critical", "warning", "info"])
def test_every_paser_team_and_an_unknown_one_land_on_one_real_receiver(
    tmp_path: Path, severity: str
) -> None:
    out = tmp_path / "am.yml"
    inv = load_config(PASER).inventory
    cfg = alertmanager_config(inv, RenderOptions(off_hours="all"))
    out.write_text(render_alertmanager(inv, RenderOptions(off_hours="all")))
    delivering = {
        r["name"] for r in cfg["receivers"] if r.get("webhook_configs") or r.get("email_configs")
    }
    site = load_plan(PASER).sites[0]
    for team in [t.id for t in site.teams] + ["it-typo", "agensi-baru"]:
        got = routes_test(out, "site=paser", f"team={team}", f"severity={severity}")
        assert len(got) == 1 and got[0] in delivering, (team, got)
    assert routes_test(out, "site=paser", "team=it-typo") == ["paser-unknown-team"]


def test_unknown_team_goes_to_the_network_team_or_the_chosen_one(tmp_path: Path) -> None:
    inv_file = tmp_path / "inv.yaml"
    inv_file.write_text(INVENTORY)
    inv = load_config(inv_file).inventory

    def catch_all(opts: RenderOptions) -> dict[str, object]:
        recs = {r["name"]: r for r in alertmanager_config(inv, opts)["receivers"]}
        return recs["paser-unknown-team"]

    kominfo = catch_all(RenderOptions(notifier_url="http://n:1"))
    assert kominfo["webhook_configs"] == [
        {
            "url": "http://n:1/api/v1/alerts/webhook/kominfo?site=paser",
            "send_resolved": True,
            "max_alerts": 50,
        }
    ]
    # an e-mail-only team: the notifier mails it (no Alertmanager e-mail for team alerts)
    dukcapil = catch_all(RenderOptions(notifier_url="http://n:1", unknown_team="it-dukcapil"))
    assert "email_configs" not in dukcapil
    assert dukcapil["webhook_configs"][0]["url"].endswith("/webhook/it-dukcapil?site=paser")  # type: ignore[index]
    # a site without that team falls back to its own network team
    recs = {
        r["name"]: r
        for r in alertmanager_config(inv, RenderOptions(unknown_team="it-dukcapil"))["receivers"]
    }
    (hook,) = recs["tanagrogot-unknown-team"]["webhook_configs"]
    assert hook["url"] == "http://127.0.0.1:9469/api/v1/alerts/webhook/kominfo?site=tanagrogot"


def test_render_refuses_an_unknown_fallback_team(tmp_path: Path) -> None:
    inv = tmp_path / "inv.yaml"
    inv.write_text(INVENTORY)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "monitor",
            "render",
            "alertmanager",
            "--config",
            str(inv),
            "--unknown-team",
            "it-nobody",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "--unknown-team 'it-nobody': no such team in the inventory" in proc.stderr
