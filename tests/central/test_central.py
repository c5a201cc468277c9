"""Issue 12: five sites remote-write to one real VictoriaMetrics (tests/central/harness.py).

Run: ``python -m pytest tests/central -x -q``. MPP_CENTRAL_CUT_SECONDS sets the cut (60 s by
default; 600 for the issue's ten minutes: bench/central_cut.py does that with figures).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.central import harness as H
from tests.e2e.harness import REPO, run_cli
from tests.render.amserver import ALERTMANAGER, free_port, start_alertmanager, webhook_sink

pytestmark = pytest.mark.skipif(
    H.VM_BIN is None or H.VMALERT_BIN is None or ALERTMANAGER is None,
    reason="victoria-metrics, vmalert or alertmanager not installed (tasks: DEBS)",
)

CUT_SECONDS = float(os.environ.get("MPP_CENTRAL_CUT_SECONDS", "60"))
DARK_AFTER = "30s"
EXTERNAL = {"site", "team", "region", "regency"}


@pytest.fixture(scope="module")
def central(tmp_path_factory: pytest.TempPathFactory) -> Iterator[H.Central]:
    c = H.start_central(tmp_path_factory.mktemp("central"))
    try:
        yield c
    finally:
        c.close()


def test_every_site_arrives_with_its_external_labels(central: H.Central) -> None:
    def arrived() -> list[dict[str, Any]] | None:
        got = H.query(central.vm_url, 'up{job="mpp-monitor"}')
        return got if len(got) == H.SITES else None

    got = H.wait_for("five heartbeats at the centre", arrived, 60)
    labels = sorted(
        (r["metric"]["site"], r["metric"]["region"], r["metric"]["regency"]) for r in got
    )
    assert labels == [(H.site_id(n), "kaltim", f"kab{n}") for n in range(1, H.SITES + 1)]
    series = H.query(central.vm_url, "count by (site) (probe_success)")
    assert {r["metric"]["site"] for r in series} == {H.site_id(n) for n in range(1, H.SITES + 1)}


def _samples(rows: list[dict[str, Any]]) -> dict[frozenset[tuple[str, str]], set[int]]:
    """{series labels without the external ones: sample timestamps in ms}"""
    out: dict[frozenset[tuple[str, str]], set[int]] = {}
    for r in rows:
        key = frozenset((k, v) for k, v in r["metric"].items() if k not in EXTERNAL)
        stamps = r.get("timestamps") or [round(float(t) * 1000) for t, _ in r["values"]]
        out.setdefault(key, set()).update(int(t) for t in stamps)
    return out


def _vm_export(url: str, match: str, start: float, end: float) -> list[dict[str, Any]]:
    q = urllib.parse.urlencode({"match[]": match, "start": f"{start:.3f}", "end": f"{end:.3f}"})
    with urllib.request.urlopen(f"{url}/api/v1/export?{q}", timeout=30) as resp:
        return [json.loads(line) for line in resp.read().decode().splitlines() if line.strip()]


def missing_after_cut(central: H.Central, cut_seconds: float) -> tuple[int, int]:
    """Cut the proxied site's path, restore it; (samples missing at the centre, site samples)."""
    site = central.site(H.CUT_SITE)
    match = f'probe_success{{site="{site.id}"}}'
    t0 = time.time()
    central.proxy.cut()
    # the cut is the scenario itself (how long the path is down), not a wait for a condition
    time.sleep(cut_seconds)
    central.proxy.restore()
    t1 = time.time()

    # Caught up: VM holds a sample of the site newer than the restore (plus a settling
    # margin of a few scrapes). Prometheus sends its WAL in order per shard, so a sample
    # after t1 means the backlog of the cut went first; backoff after a long cut is at most
    # max_backoff (5m, rendered), hence the bound.
    def caught_up() -> bool:
        got = H.query(central.vm_url, f"timestamp({match})")
        return bool(got) and min(float(r["value"][1]) for r in got) > t1 + 3

    H.wait_for("VM caught up after the cut", caught_up, 60 + min(cut_seconds, 300), poll=1)
    # Same absolute window at both ends: the site's raw samples in [t0, t1] (a range
    # selector evaluated at t1 returns them raw), VM's raw samples over a wider window
    # [t0-5, t1+5] (export), so a sample on the window's edge is never counted missing.
    rng = f"{int(t1 - t0)}s"
    local = _samples(H.query(site.prometheus_url, f"probe_success[{rng}]", at=t1))
    remote = _samples(_vm_export(central.vm_url, match, t0 - 5, t1 + 5))
    total = sum(len(s) for s in local.values())
    missing = sum(len(s - remote.get(k, set())) for k, s in local.items())
    return missing, total


def test_a_cut_path_loses_no_samples(central: H.Central) -> None:
    missing, total = missing_after_cut(central, CUT_SECONDS)
    print(f"\ncut {CUT_SECONDS:.0f}s: {total} site samples in the window, {missing} missing")
    assert total > 0
    assert missing == 0


def _availability(inv: Path, url: str, site: str, out: Path) -> list[list[str]]:
    month = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m")
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "report", "--config", str(inv), "--prometheus", url,
         "--month", month, "--site", site, "--format", "csv", "--step", "15", "--out", str(out)],
        capture_output=True, text=True, timeout=120, check=False, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    files = list(out.rglob("availability.csv"))
    assert files, list(out.rglob("*"))
    with files[0].open(encoding="utf-8-sig") as f:
        return list(csv.reader(f))


def test_monthly_report_from_the_centre_equals_the_sites(
    central: H.Central, tmp_path: Path
) -> None:
    site = central.site(2)
    # the same end for both: the report runs up to "now"; evaluate after the last samples
    local = _availability(site.inventory, site.prometheus_url, site.id, tmp_path / "site")
    remote = _availability(site.inventory, central.vm_url, site.id, tmp_path / "centre")
    assert len(local) == len(remote) > 1
    number = re.compile(r"^-?\d+(\.\d+)?$")
    for a, b in zip(local, remote, strict=True):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            if number.match(x) and number.match(y):
                assert abs(float(x) - float(y)) <= 0.01, (a, b)
            else:
                assert x == y, (a, b)


def test_a_dark_site_alerts_the_centre_only(central: H.Central, tmp_path: Path) -> None:
    rules = tmp_path / "central.yml"
    run_cli("render", "central", "--dark-after", DARK_AFTER, "--out", str(rules))
    # the groups evaluate every minute in production; every 5 s here (only that line changes)
    rules.write_text(re.sub(r"(?m)^(\s+)interval: 1m$", r"\1interval: 5s", rules.read_text()))
    with webhook_sink() as (sink, sink_url):
        am_cfg = (
            "route:\n  receiver: agencies\n  group_by: [alertname, site]\n"
            "  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n"
            "  routes:\n    - matchers: ['team=\"pusat\"']\n      receiver: pusat\n"
            "receivers:\n"
            f"  - name: agencies\n    webhook_configs: [{{url: '{sink_url}/agencies'}}]\n"
            f"  - name: pusat\n    webhook_configs: [{{url: '{sink_url}/pusat'}}]\n"
        )
        with start_alertmanager(am_cfg, tmp_path) as am:
            port = free_port()
            vmalert = central.procs.start("vmalert", [
                str(H.VMALERT_BIN), f"-rule={rules}", f"-datasource.url={central.vm_url}",
                f"-notifier.url={am.url}", f"-remoteWrite.url={central.vm_url}",
                "-evaluationInterval=5s",
                f"-httpListenAddr=127.0.0.1:{port}",
            ])  # fmt: skip
            H.wait_for("vmalert ready", lambda: vmalert.popen.poll() is None
                       and H.ok(f"http://127.0.0.1:{port}/health"), 30)  # fmt: skip
            dark = central.site(4)
            stopped = time.monotonic()
            dark.stop()

            def fired() -> list[Any]:
                return [d for d in sink.received if d.path == "/pusat"]

            got = H.wait_for("MppSiteDark at the central receiver", fired, 180, poll=0.2)
            detection = time.monotonic() - stopped
            print(f"\ndark site detected after {detection:.1f}s (dark-after {DARK_AFTER})")
            alerts = [a for d in got for a in d.body["alerts"]]
            assert {a["labels"]["alertname"] for a in alerts} == {"MppSiteDark"}
            assert {a["labels"]["site"] for a in alerts} == {dark.id}
            assert all(a["labels"]["team"] == "pusat" for a in alerts)
            assert [d for d in sink.received if d.path != "/pusat"] == []
