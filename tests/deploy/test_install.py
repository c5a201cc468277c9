"""`mpp-monitor install` adds to Debian's Prometheus and Alertmanager configs, never replaces.

The files in tests/deploy/debian/ are Debian 12's defaults (prometheus 2.42.0+ds-5+deb12u1,
prometheus-alertmanager 0.25.0-1+b4, checked with ``dpkg --verify``). The merged results are
checked with the real promtool and amtool.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from monitor import install
from monitor.inventory import load_config

ROOT = Path(__file__).resolve().parents[2]
DEBIAN = Path(__file__).with_name("debian")
PASER = ROOT / "examples" / "mpp-paser.yaml"

needs_tools = pytest.mark.skipif(
    shutil.which("promtool") is None or shutil.which("amtool") is None,
    reason="promtool/amtool (Debian prometheus, prometheus-alertmanager) not installed",
)


def debian_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "etc/prometheus").mkdir(parents=True)
    (root / "etc/default").mkdir(parents=True)
    for name in ("prometheus.yml", "alertmanager.yml"):
        shutil.copy(DEBIAN / name, root / "etc/prometheus" / name)
    shutil.copy(DEBIAN / "default-prometheus", root / "etc/default/prometheus")
    return root


def mpp_install(root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", "install", "--config", str(PASER), "--root", str(root),
         *extra],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )  # fmt: skip


def yaml_of(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text())


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = debian_root(tmp_path_factory.mktemp("install"))
    done = mpp_install(root)
    assert done.returncode == 0, done.stdout + done.stderr
    return root


@needs_tools
def test_debian_jobs_survive_and_ours_are_added(installed: Path) -> None:
    before = yaml_of(DEBIAN / "prometheus.yml")
    after = yaml_of(installed / "etc/prometheus/prometheus.yml")
    jobs = {j["job_name"]: j for j in after["scrape_configs"]}
    for job in before["scrape_configs"]:  # prometheus and node, exactly as they were
        assert jobs[job["job_name"]] == job
    assert {"prometheus", "node", "mpp-monitor", "alertmanager"} == set(jobs)
    assert jobs["mpp-monitor"]["static_configs"] == [{"targets": ["127.0.0.1:9469"]}]
    assert jobs["alertmanager"]["static_configs"] == [{"targets": ["localhost:9093"]}]
    assert after["rule_files"] == [install.RULES_NAME]
    # Debian's label kept; ours added for the monitor's own alerts.
    assert after["global"]["external_labels"] == {
        "monitor": "example",
        "site": "paser",
        "team": "kominfo",
    }
    # Debian already sends to localhost:9093: not a second time.
    assert after["alerting"] == before["alerting"]


@needs_tools
def test_promtool_and_amtool_accept_the_results(installed: Path) -> None:
    prom = subprocess.run(
        ["promtool", "check", "config", str(installed / "etc/prometheus/prometheus.yml")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert prom.returncode == 0, prom.stdout + prom.stderr
    assert "1 rule files found" in prom.stdout
    am = subprocess.run(
        ["amtool", "check-config", str(installed / "etc/prometheus/alertmanager.yml")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert am.returncode == 0, am.stdout + am.stderr


def route(config: Path, *labels: str) -> str:
    done = subprocess.run(
        ["amtool", "config", "routes", "test", f"--config.file={config}", *labels],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


@needs_tools
def test_our_alerts_reach_our_receivers_and_debians_routes_still_work(installed: Path) -> None:
    config = installed / "etc/prometheus/alertmanager.yml"
    link = ["alertname=MppLinkDown", "site=paser", "team=kominfo", "severity=critical"]
    assert route(config, *link) == "mpp/paser-kominfo"
    # The example routes of Debian's file, untouched.
    assert route(config, "alertname=DiskFull", "service=files", "severity=critical") == (
        "team-Y-pager"
    )
    assert route(config, "alertname=Other") == "team-X-mails"
    # A non-Mpp alert with a team label of ours does not fall into our tree.
    assert route(config, "alertname=NodeDown", "team=kominfo", "site=paser") == "team-X-mails"


@needs_tools
def test_our_inhibitions_only_touch_our_alerts(installed: Path) -> None:
    after = yaml_of(installed / "etc/prometheus/alertmanager.yml")
    before = yaml_of(DEBIAN / "alertmanager.yml")
    rules = after["inhibit_rules"]
    assert before["inhibit_rules"][0] in rules  # Debian's critical-inhibits-warning rule
    ours = [r for r in rules if r not in before["inhibit_rules"]]
    assert ours
    for rule in ours:
        assert install.OURS in rule["source_matchers"]
        assert install.OURS in rule["target_matchers"]
    names = [r["name"] for r in after["receivers"]]
    assert {"team-X-mails", "team-X-pager", "team-Y-mails", "team-Y-pager"} <= set(names)
    assert len(names) == len(set(names))


@needs_tools
def test_a_second_install_writes_nothing(installed: Path) -> None:
    before = tree(installed)
    done = mpp_install(installed)
    assert done.returncode == 0, done.stderr
    assert "nothing written" in done.stdout
    assert tree(installed) == before


@needs_tools
def test_retention_and_backups(installed: Path) -> None:
    default = (installed / "etc/default/prometheus").read_text()
    assert 'ARGS="--storage.tsdb.retention.time=90d"' in default
    # Debian's comments stay.
    assert default.splitlines()[0] == (DEBIAN / "default-prometheus").read_text().splitlines()[0]
    backups = sorted(p.name for p in (installed / "etc/prometheus").glob("*.mpp-monitor-*"))
    assert [b.split(".mpp-monitor-")[0] for b in backups] == ["alertmanager.yml", "prometheus.yml"]
    for backup in (installed / "etc/prometheus").glob("*.mpp-monitor-*"):
        name = backup.name.split(".mpp-monitor-")[0]
        assert backup.read_bytes() == (DEBIAN / name).read_bytes()
    units = sorted(p.name for p in (installed / "etc/systemd/system").iterdir())
    assert "mpp-monitor.service" in units and "mpp-monitor-refresh.timer" in units
    token_file = installed / "etc/default/mpp-monitor"
    assert token_file.stat().st_mode & 0o777 == 0o600


@needs_tools
def test_dry_run_prints_a_diff_and_writes_nothing(tmp_path: Path) -> None:
    root = debian_root(tmp_path)
    before = tree(root)
    done = mpp_install(root, "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "would write: /etc/prometheus/prometheus.yml" in done.stdout
    assert "+  - job_name: mpp-monitor" in done.stdout
    assert tree(root) == before


@needs_tools
def test_a_config_promtool_rejects_is_not_written(tmp_path: Path) -> None:
    root = debian_root(tmp_path)
    prom = root / "etc/prometheus/prometheus.yml"
    prom.write_text(prom.read_text().replace("scrape_interval: 5s", "scrape_interval: soon"))
    before = tree(root)
    done = mpp_install(root)
    assert done.returncode == 1
    assert "promtool check config" in done.stderr and "nothing written" in done.stderr
    assert tree(root) == before


def test_a_file_that_is_not_yaml_is_named(tmp_path: Path) -> None:
    root = debian_root(tmp_path)
    (root / "etc/prometheus/alertmanager.yml").write_text("route: [unclosed\n")
    before = tree(root)
    done = mpp_install(root, "--no-check")
    assert done.returncode == 1
    assert "alertmanager.yml: not valid YAML" in done.stderr
    assert tree(root) == before


def test_too_short_a_retention_is_refused(tmp_path: Path) -> None:
    done = mpp_install(debian_root(tmp_path), "--retention", "30d")
    assert done.returncode == 1
    assert "at least 45 days" in done.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('ARGS=""\n', 'ARGS="--storage.tsdb.retention.time=90d"\n'),
        (
            'ARGS="--web.listen-address=:9090 --storage.tsdb.retention.time=15d"\n',
            'ARGS="--web.listen-address=:9090 --storage.tsdb.retention.time=90d"\n',
        ),
        (  # never lowered
            'ARGS="--storage.tsdb.retention.time=1y"\n',
            'ARGS="--storage.tsdb.retention.time=1y"\n',
        ),
        ("# no ARGS line\n", '# no ARGS line\nARGS="--storage.tsdb.retention.time=90d"\n'),
        ("", 'ARGS="--storage.tsdb.retention.time=90d"\n'),
    ],
)
def test_retention_in_args(text: str, expected: str) -> None:
    assert install.with_retention(text, 90) == expected


def test_an_earlier_installs_receivers_are_replaced_not_doubled() -> None:
    inv = load_config(str(PASER)).inventory
    opts = install.Options(today=dt.date(2026, 12, 7))
    y = YAML()
    existing = y.load((DEBIAN / "alertmanager.yml").read_text())
    existing["receivers"].append({"name": "mpp/paser-gone-team"})
    existing["time_intervals"] = [{"name": "mpp/stale", "time_intervals": []}]
    once = install.merge_alertmanager(existing, inv, opts)
    names = [r["name"] for r in once["receivers"]]
    assert "mpp/paser-gone-team" not in names
    assert "mpp/stale" not in [t["name"] for t in once["time_intervals"]]
    count = len(once["receivers"])
    twice = install.merge_alertmanager(once, inv, opts)
    assert len(twice["receivers"]) == count
    assert sum(1 for r in twice["route"]["routes"] if install.OURS in r.get("matchers", [])) == 1


def test_closed_days_cover_last_year_to_two_years_ahead() -> None:
    inv = load_config(str(PASER)).inventory
    years = install.closed_day_years(inv, dt.date(2026, 12, 7))
    assert {2025, 2026, 2027, 2028} <= set(years)
    opts = install.Options(today=dt.date(2026, 12, 7))
    merged = install.merge_alertmanager(YAML().load("{}"), inv, opts)
    closed = next(t for t in merged["time_intervals"] if t["name"] == "mpp/paser-closed-days")
    text = repr(closed)
    assert "2028" in text and "2025" in text


@needs_tools
def test_basic_auth_for_the_webhook_is_rendered_with_a_password_file(tmp_path: Path) -> None:
    root = debian_root(tmp_path)
    secret = tmp_path / "notifier.pass"
    secret.write_text("s3cret\n")
    done = mpp_install(
        root, "--notifier-user", "alertmanager", "--notifier-password-file", str(secret)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    text = (root / "etc/prometheus/alertmanager.yml").read_text()
    config = YAML(typ="safe", pure=True).load(text)
    hooks = [
        hook
        for receiver in config["receivers"]
        if receiver["name"].startswith(install.PREFIX)
        for hook in receiver.get("webhook_configs", [])
        if "/api/v1/alerts/webhook/" in hook["url"]
    ]
    assert hooks
    for hook in hooks:
        auth = hook["http_config"]["basic_auth"]
        assert auth == {"username": "alertmanager", "password_file": str(secret)}
    assert "s3cret" not in text
    # the same web server guards /metrics: Prometheus scrapes with the same credentials
    prom_text = (root / "etc/prometheus/prometheus.yml").read_text()
    prom = YAML(typ="safe", pure=True).load(prom_text)
    (job,) = [j for j in prom["scrape_configs"] if j["job_name"] == "mpp-monitor"]
    assert job["basic_auth"] == {"username": "alertmanager", "password_file": str(secret)}
    assert "s3cret" not in prom_text
