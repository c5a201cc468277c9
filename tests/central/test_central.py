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
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from monitor.inventory import load_plan
from monitor.report import make_report, pick_sites, write_report
from tests.central import harness as H
from tests.dashboards import boards
from tests.dashboards.boards import DASHBOARD_FILES
from tests.dashboards.promserver import PromServer
from tests.dashboards.test_queries import resolve_variables
from tests.e2e.harness import run_cli
from tests.render.amserver import (
    ALERTMANAGER,
    Delivery,
    WebhookSink,
    free_port,
    start_alertmanager,
    webhook_sink,
)
from tests.support.browser import headless_chromium

pytestmark = pytest.mark.skipif(
    H.VM_BIN is None or H.VMALERT_BIN is None or ALERTMANAGER is None,
    reason="victoria-metrics, vmalert or alertmanager not installed (tasks: DEBS)",
)

CUT_SECONDS = float(os.environ.get("MPP_CENTRAL_CUT_SECONDS", "60"))
DARK_AFTER = "30s"
LONG_CUT = 45.0  # a cut longer than dark-after + evaluation + group_wait: the cut site goes dark
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
    # every site sends its probe detail but the summary one, which sends its states only
    full = {H.site_id(n) for n in range(1, H.SITES + 1)} - {H.site_id(H.SUMMARY_SITE)}
    series = H.query(central.vm_url, "count by (site) (probe_success)")
    assert {r["metric"]["site"] for r in series} == full
    states = H.query(central.vm_url, "count by (site) (mpp_entity_status)")
    assert {r["metric"]["site"] for r in states} == full | {H.site_id(H.SUMMARY_SITE)}


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


@dataclass
class Outcome:
    """What the scenario saw: the cut's samples, the alerts at the centre, their times."""

    missing: int
    total: int
    deliveries: list[Delivery]
    detection: float  # site 4 stopped -> MppSiteDark at the central receiver, seconds


# (seconds after the cut starts, entity, fault, on): faults on the cut site during the cut,
# so the report compared afterwards has real outages in the part the centre got late
CUT_FAULTS = ((5.0, "siak", "http_503", True), (15.0, "router", "down", True),
              (30.0, "router", "down", False), (40.0, "siak", "http_503", False))  # fmt: skip


def central_alerting(central: H.Central, stack: ExitStack, tmp: Path) -> WebhookSink:
    """vmalert on `render central` rules -> a real Alertmanager -> a sink; return the sink."""
    rules = tmp / "central.yml"
    run_cli("render", "central", "--dark-after", DARK_AFTER, "--out", str(rules))
    # the groups evaluate every minute in production; every 5 s here (only that line changes)
    rules.write_text(re.sub(r"(?m)^(\s+)interval: 1m$", r"\1interval: 5s", rules.read_text()))
    sink, sink_url = stack.enter_context(webhook_sink())
    am_cfg = (
        "route:\n  receiver: agencies\n  group_by: [alertname, site]\n"
        "  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n"
        "  routes:\n    - matchers: ['team=\"pusat\"']\n      receiver: pusat\n"
        "receivers:\n"
        f"  - name: agencies\n    webhook_configs: [{{url: '{sink_url}/agencies'}}]\n"
        f"  - name: pusat\n    webhook_configs: [{{url: '{sink_url}/pusat'}}]\n"
    )
    am = stack.enter_context(start_alertmanager(am_cfg, tmp))
    port = free_port()
    vmalert = central.procs.start("vmalert", [
        str(H.VMALERT_BIN), f"-rule={rules}", f"-datasource.url={central.vm_url}",
        f"-notifier.url={am.url}", f"-remoteWrite.url={central.vm_url}",
        "-evaluationInterval=5s", f"-httpListenAddr=127.0.0.1:{port}",
    ])  # fmt: skip
    H.wait_for("vmalert ready", lambda: vmalert.popen.poll() is None
               and H.ok(f"http://127.0.0.1:{port}/health"), 30)  # fmt: skip
    return sink


def dark_alerts(sink: WebhookSink, site: str, status: str = "firing") -> list[dict[str, Any]]:
    """MppSiteDark alerts for ``site`` with ``status`` that the central receiver got."""
    return [
        a
        for d in list(sink.received)
        if d.path == "/pusat"
        for a in d.body["alerts"]
        if a["labels"]["site"] == site and a["status"] == status
    ]


def run_scenario(central: H.Central, tmp: Path, cut_seconds: float) -> Outcome:
    """Cut site 1's path (with faults on it meanwhile) and stop site 4 at the same moment.

    The cut is the scenario itself (how long the path is down), so its length is kept on
    the clock; everything after it waits for conditions (caught up, alert received).
    """
    with ExitStack() as stack:
        sink = central_alerting(central, stack, tmp)
        cut, dark = central.site(H.CUT_SITE), central.site(H.DARK_SITE)
        match = f'probe_success{{site="{cut.id}"}}'
        t0, started = time.time(), time.monotonic()
        central.proxy.cut()
        dark.stop()
        detection = 0.0
        pending = list(CUT_FAULTS)
        while (elapsed := time.monotonic() - started) < cut_seconds:
            while pending and pending[0][0] <= elapsed:
                _, entity, fault, on = pending.pop(0)
                cut.fault(entity, fault, on)
            if not detection and dark_alerts(sink, dark.id):
                detection = elapsed
            time.sleep(0.2)
        for _, entity, fault, _on in pending:  # a cut shorter than the fault plan
            cut.fault(entity, fault, False)
        central.proxy.restore()
        t1 = time.time()
        if not detection:
            H.wait_for("MppSiteDark at the central receiver",
                       lambda: dark_alerts(sink, dark.id), 180, poll=0.2)  # fmt: skip
            detection = time.monotonic() - started

        # Caught up: VM holds a sample of the site newer than the restore (plus a settling
        # margin of a few scrapes). Prometheus sends its WAL in order per shard, so a sample
        # after t1 means the backlog of the cut went first; backoff after a long cut is at
        # most max_backoff (5m, rendered), hence the bound.
        newest: dict[str, float] = {}

        def caught_up() -> bool:
            got = H.query(central.vm_url, f"timestamp({match})")
            newest.clear()
            newest.update({r["metric"].get("entity", "?"): float(r["value"][1]) for r in got})
            return bool(newest) and min(newest.values()) > t1 + 3

        try:
            H.wait_for("VM caught up", caught_up, 60 + min(cut_seconds, 300), poll=1)
        except AssertionError:
            lag = {k: round(t1 - v, 1) for k, v in newest.items()}
            raise AssertionError(f"VM not caught up: newest sample vs restore, s: {lag}") from None
        if cut_seconds > LONG_CUT:  # long enough for the cut site to go dark at the centre
            H.wait_for("MppSiteDark of the cut site resolved",
                       lambda: dark_alerts(sink, cut.id, "resolved"), 60, poll=0.2)  # fmt: skip
        # Same absolute window at both ends: the site's raw samples in [t0, t1] (a range
        # selector evaluated at t1 returns them raw), VM's raw samples over a wider window
        # [t0-5, t1+5] (export), so a sample on the window's edge is never counted missing.
        rng = f"{int(t1 - t0)}s"
        local = _samples(H.query(cut.prometheus_url, f"probe_success[{rng}]", at=t1))
        remote = _samples(_vm_export(central.vm_url, match, t0 - 5, t1 + 5))
        total = sum(len(s) for s in local.values())
        missing = sum(len(s - remote.get(k, set())) for k, s in local.items())
        return Outcome(missing, total, list(sink.received), detection)


@pytest.fixture(scope="module")
def outcome(central: H.Central, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    def all_up() -> bool:
        return len(H.query(central.vm_url, 'up{job="mpp-monitor"}')) == H.SITES

    H.wait_for("five heartbeats at the centre", all_up, 60)
    return run_scenario(central, tmp_path_factory.mktemp("scenario"), CUT_SECONDS)


def test_a_cut_path_loses_no_samples(outcome: Outcome) -> None:
    print(f"\ncut {CUT_SECONDS:.0f}s: {outcome.total} site samples in the window, "
          f"{outcome.missing} missing")  # fmt: skip
    assert outcome.total > 0
    assert outcome.missing == 0


def test_a_dark_site_alerts_the_centre_only(outcome: Outcome) -> None:
    print(f"\ndark site detected after {outcome.detection:.1f}s (dark-after {DARK_AFTER})")
    alerts = [a for d in outcome.deliveries for a in d.body["alerts"]]
    assert {a["labels"]["alertname"] for a in alerts} == {"MppSiteDark"}
    dark, cut = H.site_id(H.DARK_SITE), H.site_id(H.CUT_SITE)
    fired = {a["labels"]["site"] for a in alerts if a["status"] == "firing"}
    # the stopped site, and the cut one when the cut outlasts dark-after: nobody else
    assert dark in fired and fired <= {dark, cut}, fired
    assert all(a["labels"]["team"] == "pusat" for a in alerts)
    assert [d.path for d in outcome.deliveries if d.path != "/pusat"] == []
    if CUT_SECONDS > LONG_CUT:
        assert cut in fired
        resolved = {a["labels"]["site"] for a in alerts if a["status"] == "resolved"}
        assert cut in resolved and dark not in resolved


async def _availability(inv: Path, url: str, site: str, now: float, out: Path) -> list[list[str]]:
    """availability.csv of the site's report up to ``now`` computed from the store at url."""
    plan = load_plan(inv)
    _, info = pick_sites([plan], site)[0]
    month = dt.datetime.fromtimestamp(now, dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m")
    report = await make_report(plan, info, month, url, step=15, now=now, compare=False)
    (path,) = [p for p in write_report(report, out, ["csv"]) if p.name == "availability.csv"]
    with path.open(encoding="utf-8-sig") as f:
        return list(csv.reader(f))


def largest_gap(local: list[list[str]], remote: list[list[str]]) -> float:
    """Largest difference of a number between two availability.csv; texts must be equal."""
    assert len(local) == len(remote) > 1
    number = re.compile(r"^-?\d+(\.\d+)?$")
    gap = 0.0
    for a, b in zip(local, remote, strict=True):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            if number.match(x) and number.match(y):
                gap = max(gap, abs(float(x) - float(y)))
            else:
                assert x == y, (a, b)
    return gap


async def site_and_centre(
    central: H.Central, n: int, tmp: Path
) -> tuple[list[list[str]], list[list[str]]]:
    """availability.csv of site n from its own Prometheus and from the centre, same end."""
    site = central.site(n)
    # one fixed end for both, older than what the centre already holds of the site
    now = time.time() - 5
    local = await _availability(site.inventory, site.prometheus_url, site.id, now, tmp / "s")
    remote = await _availability(site.inventory, central.vm_url, site.id, now, tmp / "c")
    return local, remote


@pytest.mark.parametrize("n", [H.CUT_SITE, H.SUMMARY_SITE])
async def test_monthly_report_from_the_centre_equals_the_sites(
    central: H.Central, outcome: Outcome, tmp_path: Path, n: int
) -> None:
    """Site 1 (cut, with faults during the cut) and site 3 (summary series only)."""
    local, remote = await site_and_centre(central, n, tmp_path)
    head = local[0]
    if n == H.CUT_SITE:  # the faults of the cut are in it: the comparison is not 100 = 100
        pct = head.index("availability_pct")
        siak = [r for r in local if r[head.index("id")].endswith("siak")]
        assert siak and all(float(r[pct]) < 100 for r in siak), siak
    assert largest_gap(local, remote) <= 0.01


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=[p.stem for p in DASHBOARD_FILES])
def test_the_dashboards_work_on_the_central_store(
    central: H.Central, outcome: Outcome, path: Path
) -> None:
    """Region and site variables list the sites' labels; every query runs on VictoriaMetrics."""
    vm = PromServer(central.vm_url, central.vm.popen, central.workdir, central.workdir / "vm.log")
    dashboard = boards.load(path)
    ignored: list[str] = []  # "no values" of variables these tiny sites have nothing for
    all_values, first_values = resolve_variables(vm, dashboard, ignored)
    names = {v["name"] for v in boards.variables(dashboard)}
    assert {"region", "site"} <= names
    assert vm.label_values("region", "mpp_entity_status") == ["kaltim"]
    sites = vm.label_values("site", 'mpp_entity_status{region=~"kaltim"}')
    assert sites == [H.site_id(n) for n in range(1, H.SITES + 1)]
    assert first_values["region"] == "kaltim" and first_values["site"] == H.site_id(1)
    failures = []
    for q in boards.queries(dashboard):
        for values in (all_values, first_values):
            expr = boards.substitute(q.expr, values)
            resp = vm.query_raw(expr)
            if not resp.ok:
                failures.append(f"{q.where()}: {resp.error_type}: {resp.error}\n    {expr}")
    assert not failures, "\n".join(failures)


def test_the_central_page_lists_every_site_worst_first(
    central: H.Central, outcome: Outcome
) -> None:
    """`mpp-monitor sites` on the centre, after the scenario: site 4 dark and listed first."""
    port = free_port()
    page_proc = central.procs.start("sites", [
        sys.executable, "-m", "monitor", "sites", "--store", central.vm_url,
        "--listen", f"127.0.0.1:{port}", "--dark-after", DARK_AFTER,
    ])  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    H.wait_for("central page", lambda: page_proc.popen.poll() is None and H.ok(url + "/-/healthy"),
               30)  # fmt: skip
    got = H.get_json(url + "/sites.json")
    rows = {r["site"]: r for r in got["sites"]}
    assert set(rows) == {H.site_id(n) for n in range(1, H.SITES + 1)}
    assert got["sites"][0]["site"] == H.site_id(H.DARK_SITE)
    assert rows[H.site_id(H.DARK_SITE)]["state"] == "dark"
    for n in (1, 2, 3, 5):  # the cut site is back; every other site is heard from
        row = rows[H.site_id(n)]
        assert row["state"] != "dark" and got["generated"] - row["last_seen"] < 30, row
        assert (row["region"], row["regency"]) == ("kaltim", f"kab{n}")
    with headless_chromium() as browser:
        tab = browser.new_page()
        tab.goto(url + "/")
        shown = tab.locator("#sites tbody tr")
        assert shown.count() == H.SITES
        assert shown.first.get_attribute("data-site") == H.site_id(H.DARK_SITE)
        assert "GELAP" in shown.first.inner_text()
        tab.goto(url + "/?lang=en")
        assert "DARK" in tab.locator("#sites tbody tr").first.inner_text()


def test_the_ranking_of_every_site_from_the_centre(
    central: H.Central, outcome: Outcome, tmp_path: Path
) -> None:
    """`report` over the five inventories against the centre: a ranking row per site whose
    figures are those of the site's own report from the same run."""
    out = tmp_path / "laporan"
    month = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m")
    configs = [arg for s in central.sites for arg in ("--config", str(s.inventory))]
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "report", *configs, "--prometheus", central.vm_url,
         "--month", month, "--format", "html,csv", "--out", str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with (out / "ranking.csv").open(encoding="utf-8-sig") as f:
        ranking = {r["site"]: r for r in csv.DictReader(f)}
    assert set(ranking) == {H.site_id(n) for n in range(1, H.SITES + 1)}
    assert {r["region"] for r in ranking.values()} == {"kaltim"}
    cut = ranking[H.site_id(H.CUT_SITE)]
    with (out / H.site_id(H.CUT_SITE) / "availability.csv").open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    internet = [r for r in rows if (r["level"], r["id"]) == ("site", "internet")]
    assert internet and cut["internet_availability_pct"] == internet[0]["availability_pct"]
    agencies = [r for r in rows if r["level"] == "agency"]
    worst = min(agencies, key=lambda r: float(r["own_availability_pct"]))
    assert cut["worst_agency"] == worst["id"]
    assert cut["worst_agency_own_pct"] == worst["own_availability_pct"]
    assert float(worst["own_availability_pct"]) < 100  # the cut site's faults are in it
    assert (out / f"ranking-{month}.html").is_file()


def test_cross_site_rules_cover_agent_and_summary_sites(
    central: H.Central, outcome: Outcome
) -> None:
    """vmalert (still running after the scenario) records per-site availability for every
    live site: the agent-mode one sends no recording rules, the summary one no raw counters."""

    def recorded() -> set[str] | None:
        got = {
            r["metric"]["site"]
            for r in H.query(central.vm_url, "site:mpp_probe_success:ratio_rate5m")
        }
        return got if {H.site_id(H.AGENT_SITE), H.site_id(H.SUMMARY_SITE)} <= got else None

    sites = H.wait_for("per-site availability recorded at the centre", recorded, 60)
    assert {H.site_id(n) for n in (1, 2, 3, 5)} <= sites
