"""Every dashboard query has data on a real Prometheus scraping the real mpp-monitor.

The demo's simulated MPP (``mpp-monitor simulate examples/demo.yaml``) runs with faults
switched on through its control endpoint, ``mpp-monitor run`` probes it, and Prometheus
(Debian's binary) scrapes the monitor every second with the committed alert rules loaded
(``for:`` shortened, so that ``ALERTS`` has series). Then every query of every panel of every
dashboard, its variables set to values Prometheus knows, must parse and return data unless
dashboards/build.py marks it possibly empty; and every metric name the dashboards use must
be in the monitor's /metrics, be a recording rule, or be a series Prometheus adds itself.

The demo binds fixed 127.x ports, so only one simulator may run at a time: pytest runs the
test modules one after another here (tests/web starts the same simulator), never in parallel.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from ruamel.yaml import YAML

from dashboards import build
from monitor import exporter
from tests.dashboards import boards
from tests.dashboards.boards import DASHBOARD_FILES, ROOT
from tests.dashboards.promserver import PromServer, start_prometheus
from tests.dashboards.test_queries import check_every_query, scrape_config
from tests.web.helpers import DEMO, start_monitor, start_simulator

RULES = ROOT / "alerts" / "mpp-rules.yml"
JOB = "mpp-monitor"
MIN_SCRAPES = 5  # enough samples for rate()/increase() over $__rate_interval (10 s)
DEADLINE = 30.0  # seconds for each awaited condition (the demo probes every 5 s)

# Faults switched on before the monitor starts, so the failure panels (faults now and their
# owners, failure reasons, status codes, uplinks down, alerts) have something to show.
FAULTS: tuple[dict[str, Any], ...] = (
    {"entity": "gerai-05-pc", "fault": "down"},  # a counter device: gerai 5 cannot serve
    {"entity": "vclaim", "fault": "http_503"},  # an application answering 503
    {"entity": "isp-a", "fault": "down"},  # an uplink: SIAK (only via ISP A) unreachable
)
# ...and how each shows in Prometheus once the monitor has seen it.
FAULTS_SEEN: tuple[str, ...] = (
    'mpp_desk_status{counter="05", status="down"} == 1',
    'mpp_entity_status{entity="demo/application/bpjs-kes-vclaim", status="down"} == 1',
    'probe_http_status_code{entity="demo/application/bpjs-kes-vclaim"} == 503',
    'mpp_link_state{link="isp-a", state="down"} == 1',
    'mpp_desk_fault_owner{counter="07", owner_team="kominfo"} == 1',
    'ALERTS{alertstate="firing"}',
)

# Series Prometheus adds to every scrape, and its alert series.
PROMETHEUS_NAMES = frozenset(
    {
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
        "ALERTS",
        "ALERTS_FOR_STATE",
    }
)
# Names the exporter declares but the demo cannot produce, and why. Each must stay absent
# from the demo's /metrics (else drop it here), and its queries be marked possibly empty.
NOT_IN_DEMO: dict[str, str] = {
    "mpp_link_loss_ratio": "the demo's uplinks have no ICMP anchor (loopback always answers)",
    "mpp_link_rtt_median_seconds": "the demo's uplinks have no ICMP anchor",
    "mpp_notifier_messages_total": "nothing is sent: the demo has no notification channel",
}

# A PromQL expression, taken apart just enough to find its metric names.
STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
MATCHERS_RE = re.compile(r"\{[^{}]*\}")
LABEL_LIST_RE = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
RANGE_RE = re.compile(r"\[[^\[\]]*\]")
IDENT_RE = re.compile(r"(?<![\w:.])[A-Za-z_:][\w:]*(?![\w:])")
KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "bool"}
    | {"and", "or", "unless", "offset", "inf", "nan"}
)


def metric_names(expr: str) -> set[str]:
    """The metric (and recording rule) names a PromQL expression selects."""
    if "__name__" in expr:
        raise ValueError(f"cannot check a __name__ matcher: {expr}")
    text = STRING_RE.sub('""', expr)
    text = boards.VAR_RE.sub("0", text)  # $__range_s, ${var}: values, not names
    text = MATCHERS_RE.sub("", text)
    text = LABEL_LIST_RE.sub("", text)
    text = RANGE_RE.sub("", text)
    names = set()
    for m in IDENT_RE.finditer(text):
        if m.group(0).lower() in KEYWORDS or re.match(r"\s*\(", text[m.end() :]):
            continue  # an operator keyword, or a function / aggregation call
        names.add(m.group(0))
    return names


def test_metric_names_are_found_in_promql() -> None:
    # The name check below relies on this: names found, functions and labels left out.
    expr = (
        'sum by (link) (rate(foo_total{a="b", c=~"$x"}[$__rate_interval])) * $__range_s'
        " / on (x) group_left (y) ns:bar:ratio offset 5m > bool 1e3"
        ' or label_replace(vector(1), "d", "$1", "e", "(baz).*") unless max(qux)'
    )
    assert metric_names(expr) == {"foo_total", "ns:bar:ratio", "qux"}
    assert metric_names("histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))") == {"h_bucket"}


def recording_rules(path: Path) -> set[str]:
    """Names recorded by a rules file."""
    doc = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    return {r["record"] for g in doc["groups"] for r in g["rules"] if "record" in r}


def short_for(src: Path, dst: Path, seconds: int = 2) -> Path:
    """A copy of a rules file whose alerts fire after ``seconds`` instead of minutes."""
    doc = YAML(typ="safe").load(src.read_text(encoding="utf-8"))
    for group in doc["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = f"{seconds}s"
    dst.write_text(json.dumps(doc, indent=1), encoding="utf-8")  # JSON is YAML
    return dst


@dataclass
class Live:
    """The running stack: its Prometheus, and a /metrics text the monitor served."""

    prom: PromServer
    exposition: str


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """Simulator with faults, the monitor on the demo inventory, Prometheus scraping it."""
    sim, control = start_simulator()
    try:
        for fault in FAULTS:
            status, _, body = control.request("/faults", method="POST", body=fault)
            assert status == 200, (fault, body)
        mon, http, port = start_monitor(DEMO)
        try:
            rules = short_for(RULES, tmp_path_factory.mktemp("rules") / RULES.name)
            config = scrape_config(f"http://127.0.0.1:{port}/metrics")
            with start_prometheus(config, rule_files=[rules]) as prom:
                prom.wait_for(f'up{{job="{JOB}"}} == 1', timeout=DEADLINE)
                for expr in FAULTS_SEEN:
                    prom.wait_for(expr, timeout=DEADLINE)
                # Polling with a deadline: Prometheus has no event for "scraped N times".
                prom.wait_for(
                    f'count_over_time(up{{job="{JOB}"}}[1m]) >= {MIN_SCRAPES}', timeout=DEADLINE
                )
                status, _, text = http.get("/metrics")
                assert status == 200
                yield Live(prom, text)
        finally:
            mon.stop()
            mon.close()
    finally:
        sim.stop()
        sim.close()


@pytest.mark.slow
@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=[p.stem for p in DASHBOARD_FILES])
def test_every_query_has_data_from_the_running_monitor(live: Live, path: Path) -> None:
    check_every_query(live.prom, boards.load(path), build.possibly_empty())


def dashboard_names() -> dict[str, list[str]]:
    """Every metric name used by the committed dashboards -> where (dashboard / panel / refId)."""
    used: dict[str, list[str]] = {}
    for path in DASHBOARD_FILES:
        dashboard = boards.load(path)
        places = [(q.where(), q.expr) for q in boards.queries(dashboard)]
        for var in boards.variables(dashboard):
            if var["type"] == "query":
                selector, _ = boards.parse_label_values(var["query"])
                places.append((f"{dashboard['title']} / variable {var['name']}", selector or ""))
        for ann in dashboard.get("annotations", {}).get("list", []):
            places.append((f"{dashboard['title']} / annotation {ann['name']}", ann.get("expr", "")))
        for where, expr in places:
            for name in metric_names(expr):
                used.setdefault(name, []).append(where)
    return used


@pytest.mark.slow
def test_dashboards_use_only_metrics_the_monitor_exports(live: Live) -> None:
    exposed = {
        s.name for fam in text_string_to_metric_families(live.exposition) for s in fam.samples
    }
    declared = {f.name for f in exporter.ALL_FAMILIES}
    used = dashboard_names()
    assert len(used) > 20, sorted(used)  # the extraction found the dashboards' metrics
    known = exposed | recording_rules(RULES) | PROMETHEUS_NAMES | set(NOT_IN_DEMO)
    unknown = {name: where for name, where in used.items() if name not in known}
    assert not unknown, "metrics not exported by mpp-monitor:\n" + "\n".join(
        f"  {name}: {', '.join(where)}" for name, where in sorted(unknown.items())
    )
    # The demo's exceptions stay true: declared by the exporter, absent from the demo.
    assert set(NOT_IN_DEMO) <= declared, set(NOT_IN_DEMO) - declared
    assert not set(NOT_IN_DEMO) & exposed, "now exported by the demo: drop from NOT_IN_DEMO"
    # Recording rules the dashboards use are evaluated by the loaded rules (have data).
    for name in sorted(set(used) & recording_rules(RULES)):
        assert live.prom.query(name), f"recording rule {name} has no data"
