"""Every dashboard query, with its variables substituted, runs on a real Prometheus and has data.

Prometheus (Debian's binary) scrapes ``metrics_source()`` every second: the real exporter of
a real ``Service`` running a small inventory (tests/dashboards/exposition.py: two uplinks
with ICMP anchors, counters, devices, applications, a fault and a flaky application, a
notifier), so the dashboards are proved against what mpp-monitor itself exports.
test_queries_live.py does the same against the whole running monitor and the demo.

Queries run twice: once with every multi-value variable on "All" (must parse and, unless
marked possibly empty in dashboards/build.py, return data) and once with each variable on
its first concrete value (must parse). Variable queries must return values.
"""

from __future__ import annotations

import contextlib
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from dashboards import build
from dashboards.panels import CENTRAL_ONLY
from tests.dashboards import boards
from tests.dashboards.boards import DASHBOARD_FILES, NO_QUERY_TYPES
from tests.dashboards.exposition import DOWN_DEVICE, serve_monitor
from tests.dashboards.promserver import PromServer, start_prometheus

JOB = "mpp-monitor"
MIN_SCRAPES = 5  # enough samples for rate()/increase() over $__rate_interval

pytestmark = pytest.mark.slow


@contextlib.contextmanager
def metrics_source() -> Iterator[str]:
    """The /metrics URL Prometheus scrapes: the real exporter over a small inventory."""
    with serve_monitor() as url:
        yield url


def scrape_config(url: str) -> str:
    """A Prometheus config scraping one /metrics URL every second."""
    parts = urllib.parse.urlsplit(url)
    return f"""\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: {JOB}
    metrics_path: {parts.path}
    static_configs:
      - targets: ["{parts.netloc}"]
"""


@pytest.fixture(scope="module")
def prom() -> Iterator[PromServer]:
    with metrics_source() as url, start_prometheus(scrape_config(url)) as server:
        server.wait_for(f'up{{job="{JOB}"}} == 1', timeout=30)
        # Wait for several scrapes (polling with a deadline: Prometheus has no push event).
        server.wait_for(
            f'count_over_time(up{{job="{JOB}"}}[1m]) >= {MIN_SCRAPES}',
            timeout=30,
        )
        yield server


@pytest.fixture(scope="module")
def possibly_empty() -> frozenset[tuple[str, str, str]]:
    marks: frozenset[tuple[str, str, str]] = build.possibly_empty()
    return marks


def resolve_variables(
    prom: PromServer, dashboard: dict[str, Any], failures: list[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Ask Prometheus for each variable's values; return ("All" values, first values)."""
    all_values: dict[str, str] = dict(boards.BUILTINS)
    first_values: dict[str, str] = dict(boards.BUILTINS)
    for var in boards.variables(dashboard):
        name = var["name"]
        if var["type"] == "datasource":
            continue
        selector, label = boards.parse_label_values(var["query"])
        # Chained variables (agency -> counter) filter on the values chosen before them.
        every = prom.label_values(
            label, boards.substitute(selector, all_values) if selector else None
        )
        if not every and name in CENTRAL_ONLY:  # a site's Prometheus: it stays at "All"
            all_values[name] = first_values[name] = var["allValue"]
            continue
        if not every:
            failures.append(f"{dashboard['title']} / variable {name}: no values ({var['query']})")
            every = ["no-value"]
        narrowed = prom.label_values(
            label, boards.substitute(selector, first_values) if selector else None
        )
        first_values[name] = (narrowed or every)[0]
        if var.get("includeAll"):
            all_values[name] = var.get("allValue") or "(" + "|".join(every) + ")"
        else:
            all_values[name] = every[0]
    return all_values, first_values


def _check_leftovers(q: boards.Query, expr: str, failures: list[str]) -> bool:
    left = {n for n in boards.used_variables(expr) if not n.isdigit()}
    if left:
        failures.append(f"{q.where()}: unsubstituted variables {sorted(left)}\n    {expr}")
    return not left


def check_every_query(
    prom: PromServer, dashboard: dict[str, Any], marked: frozenset[tuple[str, str, str]]
) -> None:
    """Every query parses, with "All" and with single values, and has data unless marked."""
    failures: list[str] = []
    all_values, first_values = resolve_variables(prom, dashboard, failures)
    checked = 0
    for q in boards.queries(dashboard):
        checked += 1
        # "All", then single values (what a repeated panel or a picked value sends).
        for values, how in ((all_values, ""), (first_values, " (single values)")):
            expr = boards.substitute(q.expr, values)
            if not _check_leftovers(q, expr, failures):
                break
            resp = prom.query_raw(expr)
            if not resp.ok:
                failures.append(f"{q.where()}{how}: {resp.error_type}: {resp.error}\n    {expr}")
            elif not how and not resp.result and (q.uid, q.panel, q.ref_id) not in marked:
                failures.append(f"{q.where()}: no data (not marked possibly empty)\n    {expr}")
    for ann in dashboard.get("annotations", {}).get("list", []):
        if ann.get("expr"):
            resp = prom.query_raw(boards.substitute(ann["expr"], all_values))
            if not resp.ok:
                failures.append(f"{dashboard['title']} / annotation {ann['name']}: {resp.error}")
    assert checked > 0
    assert checked == sum(
        len(p.get("targets", []))
        for p in boards.panels(dashboard)
        if p["type"] not in NO_QUERY_TYPES
    )
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=[p.stem for p in DASHBOARD_FILES])
def test_every_query_parses_and_returns_data(
    prom: PromServer, possibly_empty: frozenset[tuple[str, str, str]], path: Any
) -> None:
    check_every_query(prom, boards.load(path), possibly_empty)


def test_queries_marked_possibly_empty_have_data_here_too(
    prom: PromServer, possibly_empty: frozenset[tuple[str, str, str]]
) -> None:
    # This exporter has what the demo lacks (ICMP anchors, notifier messages): so every
    # marked query has data here too, except the alerts table (no rules are loaded here).
    failures: list[str] = []
    seen: set[tuple[str, str, str]] = set()
    for path in DASHBOARD_FILES:
        dashboard = boards.load(path)
        all_values, _ = resolve_variables(prom, dashboard, failures)
        for q in boards.queries(dashboard):
            key = (q.uid, q.panel, q.ref_id)
            if key not in possibly_empty or "ALERTS" in q.expr:
                continue
            seen.add(key)
            resp = prom.query_raw(boards.substitute(q.expr, all_values))
            if not (resp.ok and resp.result):
                failures.append(f"{q.where()}: no data from the exporter")
    assert len(seen) == len(possibly_empty) - 1, sorted(possibly_empty - seen)
    assert not failures, "\n".join(failures)


def test_the_check_catches_a_broken_and_an_empty_query(prom: PromServer) -> None:
    # The test above must be able to fail: a syntax error and an unknown metric are caught.
    bad = prom.query_raw('sum by (site (mpp_site_internet_up{site=~".*"})')
    assert not bad.ok and bad.error_type == "bad_data"
    empty = prom.query_raw("mpp_no_such_metric")
    assert empty.ok and empty.result == []
    good = prom.query_raw('mpp_can_serve{counter="02"}')
    assert good.ok and [s["value"][1] for s in good.result] == ["0"]  # the fault: its PC
    owner = prom.query_raw(f'mpp_entity_fault_owner{{entity="{DOWN_DEVICE}"}} == 1')
    assert owner.ok and [s["metric"]["owner_team"] for s in owner.result] == ["it-dukcapil"]
