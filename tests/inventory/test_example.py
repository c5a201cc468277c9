"""The Paser example inventory, the two commands over it, and expansion rules."""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from monitor.commands import check_config, targets
from monitor.inventory import ConfigError, Loaded, Site, load_config, load_plan
from monitor.plan import Plan
from probes.settings import BasicAuth, HttpSettings, SecretRef

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = "examples/mpp-paser.yaml"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m monitor ...` from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def loaded() -> Loaded:
    return load_config(ROOT / EXAMPLE)


@pytest.fixture(scope="module")
def plan(loaded: Loaded) -> Plan:
    return loaded.plan


@pytest.fixture(scope="module")
def site(loaded: Loaded) -> Site:
    """The Paser site as written (the model), to check the plan against."""
    return loaded.inventory.site("paser")


@pytest.fixture(scope="module")
def listed() -> list[dict[str, Any]]:
    # a token in the environment must not reach the output
    proc = cli("targets", EXAMPLE, "--json", env={"TELEGRAM_BOT_TOKEN": "BOT-TOKEN-RAHASIA"})
    assert proc.returncode == 0, proc.stderr
    assert "BOT-TOKEN-RAHASIA" not in proc.stdout
    data: list[dict[str, Any]] = json.loads(proc.stdout)
    return data


# --- check-config ----------------------------------------------------------------------------


def test_check_config_example_reports_44_counters() -> None:
    proc = cli("check-config", EXAMPLE)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.splitlines()[0] == f"{EXAMPLE}: OK"
    assert re.search(r"^\s+counters\s+44$", proc.stdout, re.M), proc.stdout
    for word in ("sites", "teams", "agencies", "devices", "applications", "links", "targets"):
        assert re.search(rf"^\s+{word}\s+\d+", proc.stdout, re.M), word
    assert re.search(
        r"^\s+targets\s+\d+\s+\(icmp \d+, tcp \d+, http \d+, dns \d+\)$", proc.stdout, re.M
    )


def test_check_config_opens_no_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("check-config must not touch the network")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    plan = check_config.load_or_report(str(ROOT / EXAMPLE))
    assert plan is not None
    assert any(line.split() == ["counters", "44"] for line in check_config.summary(plan))


def test_example_agencies_and_counters(plan: Plan, site: Site) -> None:
    assert site.timezone == "Asia/Makassar"
    assert [c.number for c in plan.counters] == list(range(1, 45))
    assert 18 <= len(site.agencies) <= 25
    # every agency serves at least one counter, every team is used by something
    assert {a.id for a in site.agencies} == {c.agency for c in plan.counters}
    used = {e.team for e in plan.entities.values()} | {site.network_team, site.manager_team}
    assert {t.id for t in site.teams} == used
    kinds = {link.kind for link in site.links}
    assert {"isp", "vpn"} <= kinds and len(site.links) == 3
    assert all(len(link.anchors) >= 2 and link.source for link in site.links)
    assert any(w.weekly for w in site.maintenance) and any(w.start for w in site.maintenance)
    assert site.service_hours.overrides["fri"].close < site.service_hours.close


def test_example_uses_only_private_or_documentation_addresses(plan: Plan) -> None:
    import ipaddress
    from urllib.parse import urlsplit

    documentation = [
        ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
    ]
    for t in plan.targets:
        host = urlsplit(t.address).hostname if t.probe == "http" else t.address.rsplit(":", 1)[0]
        assert host
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            assert host.endswith((".example.id", ".example")), t.id
            continue
        assert (ip.is_private and not ip.is_loopback) or any(ip in n for n in documentation), t.id
    for t in plan.targets:
        if t.labels["kind"] == "link" and t.probe == "icmp" and t.labels["link"] != "dukcapil-siak":
            assert any(ipaddress.ip_address(t.address) in n for n in documentation), t.id


def test_example_applications_are_unconfirmed_with_a_comment() -> None:
    text = (ROOT / EXAMPLE).read_text(encoding="utf-8")
    assert "Each agency confirms its own health-check URL" in text
    assert text.count("health_check_confirmed: false") >= 20


# --- targets --json --------------------------------------------------------------------------


def test_json_lists_every_counter_device_with_labels_and_switch(
    plan: Plan, site: Site, listed: list[dict[str, Any]]
) -> None:
    switch_of = {n: spec.switch for spec in site.counters for n in spec.number_list()}
    agency_of = {n: spec.agency for spec in site.counters for n in spec.number_list()}
    team_of = {a.id: a.team for a in site.agencies}
    by_entity: dict[str, list[dict[str, Any]]] = {}
    for item in listed:
        by_entity.setdefault(item["entity"], []).append(item)

    devices = [e for e in plan.entities.values() if e.kind == "device"]
    assert len(devices) >= 44 * 2
    seen_counters = set()
    for entity in devices:
        items = by_entity[entity.id]  # every device has at least one target
        for item in items:
            labels = item["labels"]
            n = int(labels["counter"])
            seen_counters.add(n)
            assert labels["counter"] == f"{n:02d}"
            assert labels["kind"] == "device"
            assert labels["agency"] == agency_of[n]
            assert labels["team"] == team_of[agency_of[n]]
            assert labels["device"] and labels["site"] == "paser" and labels["link"] == ""
            assert item["depends_on"] == [f"paser/infra/{switch_of[n]}"]
    assert seen_counters == set(range(1, 45))


def test_json_known_counter_device(listed: list[dict[str, Any]]) -> None:
    item = next(i for i in listed if i["id"] == "paser/device/gerai-07-pc/icmp")
    assert item == {
        "id": "paser/device/gerai-07-pc/icmp",
        "probe": "icmp",
        "address": "192.168.50.107",
        "interval": 30.0,
        "timeout": 5.0,
        "entity": "paser/device/gerai-07-pc",
        "labels": {
            "site": "paser",
            "team": "it-dukcapil",
            "kind": "device",
            "agency": "dukcapil",
            "counter": "07",
            "device": "pc",
            "link": "",
        },
        "depends_on": ["paser/infra/sw-lt1-a"],
        "settings": {
            "count": 3,
            "spacing": 0.2,
            "payload_size": 56,
            "source": None,
            "family": "ip4",
            "max_loss": 1.0,
        },
    }


def test_json_lists_every_application_with_its_links(
    plan: Plan, site: Site, listed: list[dict[str, Any]]
) -> None:
    apps = {item["entity"]: item for item in listed if item["labels"]["kind"] == "application"}
    n_apps = 0
    for agency in site.agencies:
        for app in agency.applications:
            n_apps += 1
            item = apps[f"paser/application/{agency.id}-{app.id}"]
            assert item["labels"]["agency"] == agency.id
            assert item["labels"]["team"] == agency.team
            assert item["probe"] == ("http" if app.url else "tcp")
            assert item["address"] == (app.url or app.address)
            if app.local:
                assert item["depends_on"] == [f"paser/infra/{app.switch}"]
            else:
                assert app.links, f"{app.id} names no link"
                assert item["depends_on"] == [f"paser/link/{x}" for x in app.links]
    assert len(apps) == n_apps >= 20
    siak = apps["paser/application/dukcapil-siak"]
    assert siak["depends_on"] == ["paser/link/dukcapil-siak"]
    assert siak["settings"]["source"] == "192.168.50.10"  # one link: probed through it
    assert siak["settings"]["valid_status_codes"] == [200]


def test_target_ids_unique_and_stable(plan: Plan, listed: list[dict[str, Any]]) -> None:
    ids = [item["id"] for item in listed]
    assert len(ids) == len(set(ids)) == len(plan.targets)
    assert ids == [t.id for t in load_plan(ROOT / EXAMPLE).targets]
    for known in (
        "paser/link/telkom/gw",
        "paser/link/iconplus/web",
        "paser/link/dukcapil-siak/vpn-gw",
        "paser/infra/sw-core/icmp",
        "paser/infra/rtr-edge/tcp-8291",
        "paser/device/gerai-01-printer/tcp-9100",
        "paser/device/gerai-44-pc/icmp",
        "paser/application/bpjs-kes-vclaim/http",
        "paser/application/pegadaian-core/tcp",
    ):
        assert known in ids
    for item in listed:
        assert item["id"].startswith(item["entity"] + "/")
        assert set(item) == {
            "id",
            "probe",
            "address",
            "interval",
            "timeout",
            "entity",
            "labels",
            "depends_on",
            "settings",
        }
        assert 0 < item["timeout"] < item["interval"]


def test_links_probe_through_their_source(listed: list[dict[str, Any]]) -> None:
    sources = {"telkom": "10.20.0.101", "iconplus": "10.20.0.102", "dukcapil-siak": "192.168.50.10"}
    links = [i for i in listed if i["labels"]["kind"] == "link"]
    assert {i["labels"]["link"] for i in links} == set(sources)
    for item in links:
        assert item["settings"]["source"] == sources[item["labels"]["link"]]
        assert item["depends_on"] == []
    assert {i["labels"]["team"] for i in links if i["labels"]["link"] == "dukcapil-siak"} == {
        "it-dukcapil"
    }


def test_targets_table_and_filters() -> None:
    proc = cli("targets", EXAMPLE, "--kind", "application", "--probe", "tcp")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:4] == ["TARGET", "PROBE", "ADDRESS", "EVERY"]
    rows = lines[1:-1]
    assert lines[-1] == f"{len(rows)} targets"
    assert {r.split()[0] for r in rows} == {
        "paser/application/dukcapil-cetak-ktp/tcp",
        "paser/application/pegadaian-core/tcp",
        "paser/application/bankaltimtara-teller/tcp",
    }
    teller = next(r for r in rows if "teller" in r)
    assert teller.split()[1:6] == [
        "tcp",
        "core.bankaltimtara.example.id:443",
        "1m",
        "it-bankaltimtara",
        "bankaltimtara",
    ]
    assert teller.endswith("paser/link/iconplus")


def test_targets_unknown_site() -> None:
    proc = cli("targets", EXAMPLE, "--site", "balikpapan")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "unknown site 'balikpapan' (known: paser)"


def test_help_has_examples() -> None:
    for command in ("check-config", "targets"):
        proc = cli(command, "--help")
        assert proc.returncode == 0
        assert "Examples:" in proc.stdout and "examples/mpp-paser.yaml" in proc.stdout


def test_settings_secrets_are_references_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_TOKEN", "TOKEN-VALUE-RAHASIA")
    settings = HttpSettings(
        bearer_token=SecretRef(env="APP_TOKEN"),
        basic_auth=BasicAuth(username="monitor", password=SecretRef(file=Path("/run/pw"))),
    )
    data = targets.plain(settings)
    assert data["bearer_token"] == {"env": "APP_TOKEN"}
    assert data["basic_auth"] == {"username": "monitor", "password": {"file": "/run/pw"}}
    assert "TOKEN-VALUE-RAHASIA" not in json.dumps(data)


# --- expansion rules -------------------------------------------------------------------------

BASE = """\
defaults: {interval: 20s, timeout: 4s}
sites:
  - id: s
    name: Test
    teams:
      - {id: kominfo, name: Kominfo}
      - {id: it-a, name: IT A}
    infrastructure:
      - {id: sw, name: Switch, kind: switch, address: 10.0.0.2}
    links:
      - id: isp1
        name: ISP 1
        source: 10.0.0.101
        anchors:
          - {name: gw, address: 192.0.2.1}
          - {name: dns, address: 192.0.2.53, probe: dns, settings: {query_name: example.id}}
          - {name: web, address: "https://www.example.id/", probe: http, timeout: 2s}
          - {name: own, address: 192.0.2.9, settings: {source: 10.0.0.199}}
      - {id: isp2, name: ISP 2, source: 10.0.0.102, anchors: [203.0.113.1]}
"""


def expand_text(extra: str) -> Plan:
    return load_plan("test.yaml", BASE + extra)


def test_templates_n_and_n_plus_k() -> None:
    plan = expand_text("""\
    agencies: [{id: a, name: A, team: it-a}]
    counters:
      - numbers: 3-5
        agency: a
        switch: sw
        devices:
          - {id: pc, address: "10.1.0.{n}",
             checks: [icmp, {probe: icmp, name: mgmt, address: "10.2.0.{n+10}"},
                      {probe: http, url: "http://10.1.0.{n}:8080/status"}]}
          - {id: printer, kind: printer, address: "10.1.1.{n + 100}", checks: ["tcp:9100"]}
""")
    address = {t.id: t.address for t in plan.targets if t.labels["kind"] == "device"}
    assert address == {
        **{f"s/device/gerai-0{n}-pc/icmp": f"10.1.0.{n}" for n in (3, 4, 5)},
        **{f"s/device/gerai-0{n}-pc/mgmt": f"10.2.0.{n + 10}" for n in (3, 4, 5)},
        **{f"s/device/gerai-0{n}-pc/http": f"http://10.1.0.{n}:8080/status" for n in (3, 4, 5)},
        **{f"s/device/gerai-0{n}-printer/tcp-9100": f"10.1.1.{n + 100}:9100" for n in (3, 4, 5)},
    }
    assert [c.number for c in plan.counters] == [3, 4, 5]
    assert plan.counters[0].devices == ("s/device/gerai-03-pc", "s/device/gerai-03-printer")
    assert plan.counters[0].team == "it-a" and plan.counters[0].name == "Gerai 3"


def test_defaults_and_overrides() -> None:
    plan = expand_text("""\
    agencies:
      - id: a
        name: A
        team: it-a
        applications:
          - {id: web, name: Web, url: "https://a.example.id/", links: [isp1], interval: 60s}
          - {id: api, name: API, url: "https://api.a.example.id/", links: [isp1], timeout: 3s}
""")
    t = plan.target
    assert (t("s/link/isp1/gw").interval, t("s/link/isp1/gw").timeout) == (20.0, 4.0)
    assert (t("s/link/isp1/web").interval, t("s/link/isp1/web").timeout) == (20.0, 2.0)
    assert (t("s/application/a-web/http").interval, t("s/application/a-web/http").timeout) == (
        60.0,
        4.0,
    )
    assert t("s/application/a-api/http").timeout == 3.0


def test_link_source_applies_to_every_anchor_unless_overridden() -> None:
    plan = expand_text("")
    sources = {t.id: t.settings.source for t in plan.targets if t.labels["kind"] == "link"}
    assert sources == {
        "s/link/isp1/gw": "10.0.0.101",
        "s/link/isp1/dns": "10.0.0.101",
        "s/link/isp1/web": "10.0.0.101",
        "s/link/isp1/own": "10.0.0.199",  # the anchor's own setting wins
        "s/link/isp2/icmp-203.0.113.1": "10.0.0.102",  # shorthand anchor: a generated name
    }
    assert plan.entities["s/link/isp1"].team == "kominfo"  # the network team by default
    assert plan.entities["s/link/isp1"].loss_degraded == 0.05


def test_application_dependencies_and_source() -> None:
    plan = expand_text("""\
    agencies:
      - id: a
        name: A
        team: it-a
        applications:
          - {id: one, name: One, url: "https://one.example.id/", links: [isp2]}
          - {id: both, name: Both, url: "https://both.example.id/", links: [isp1, isp2]}
          - {id: lan, name: LAN, address: "10.0.0.50:8080", local: true, switch: sw}
          - {id: extra, name: Extra, url: "https://x.example.id/", links: [isp1], critical: false}
    counters:
      - {number: 1, agency: a, devices: [{id: pc, address: 10.1.0.1}]}
""")
    e = plan.entities
    assert e["s/application/a-one"].depends_on == ("s/link/isp2",)
    assert e["s/application/a-both"].depends_on == ("s/link/isp1", "s/link/isp2")
    assert e["s/application/a-lan"].depends_on == ("s/infra/sw",)
    assert plan.target("s/application/a-one/http").settings.source == "10.0.0.102"
    assert plan.target("s/application/a-both/http").settings.source is None
    assert plan.target("s/application/a-lan/tcp").address == "10.0.0.50:8080"
    # a counter needs its agency's critical applications; no switch means no parent
    assert plan.counters[0].applications == (
        "s/application/a-one",
        "s/application/a-both",
        "s/application/a-lan",
    )
    assert e["s/device/gerai-01-pc"].depends_on == ()
    assert e["s/application/a-extra"].critical is False


def test_infra_parents_and_teams() -> None:
    plan = expand_text("""\
    maintenance:
      - {id: m, scope: {entity: s/infra/sw}, weekly: {days: [sat], start: "07:00", end: "24:00"}}
""")
    assert plan.entities["s/infra/sw"].team == "kominfo"
    assert plan.entities["s/infra/sw"].depends_on == ()
    assert plan.target("s/infra/sw/icmp").labels["device"] == "sw"


def test_errors_collect_across_sections() -> None:
    with pytest.raises(ConfigError) as info:
        expand_text("""\
    agencies: [{id: a, name: A, team: it-a}]
    counters:
      - {numbers: 1-3, agency: a, switch: nope}
      - {numbers: 2-9, agency: b}
""")
    assert [str(e) for e in info.value.errors] == [
        "test.yaml:22:43: sites[0].counters[0].switch: "
        "unknown infrastructure device 'nope' (known: sw)",
        "test.yaml:23:19: sites[0].counters[1].numbers: "
        "counters 2-3 are already defined at line 22",
        "test.yaml:23:32: sites[0].counters[1].agency: unknown agency 'b' (known: a)",
    ]


def _args(**kw: Any) -> argparse.Namespace:
    return argparse.Namespace(**{"site": None, "kind": None, "probe": None, **kw})


def test_select_filters(plan: Plan) -> None:
    assert len(targets.select(plan, _args())) == len(plan.targets)
    links = targets.select(plan, _args(kind=["link"]))
    assert links and all(t.labels["kind"] == "link" for t in links)
    dns = targets.select(plan, _args(probe=["dns"]))
    assert dns and all(t.probe == "dns" for t in dns)
    assert targets.select(plan, _args(site="elsewhere")) == []


def test_example_channels_are_distinct_per_team(plan: Plan) -> None:
    from monitor.notify.channels import channel_names

    teams = plan.site("paser").teams
    assert len(teams) == 23
    for team in teams:
        assert len(set(channel_names(team.channels))) == len(team.channels)
