"""The central store's rule file: a site that went dark, and figures across sites.

Sites remote-write to one Prometheus-compatible store (VictoriaMetrics, Prometheus with the
remote-write receiver, Mimir, Thanos Receive: docs/central.md); vmalert or the central
Prometheus evaluates this file there. Every site series carries the site's external labels
(``site``, ``team``, and ``region``/``regency`` where the inventory has them).

The heartbeat of a site is its Prometheus' ``up{job="mpp-monitor"}``: the site Prometheus
(or agent) writes one sample per scrape, 0 or 1, as long as it runs and its path to the
centre works; a monitor that is down still gives ``up == 0`` (the site's own MppMonitorDown),
so only a silent site is dark. ``MppSiteDark``: a site seen in the last ``remember`` window
that sent no heartbeat sample for ``dark_after``. Expressions are plain PromQL, valid in
MetricsQL too.

The cross-site recording rules build on the site's own recording rules
(alerts/mpp-rules.yml, remote-written with the raw series): availability per site, per region,
and per agency kind (the agency id, the same at every MPP: ``dukcapil``, ``bpjs-kesehatan``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.scalarstring import LiteralScalarString

from monitor.render.yaml import dump as _dump

# served by `mpp-monitor sites` (the central page) and by every site's monitor
RUNBOOK_PATH = "/runbook#mppsitedark"
HEARTBEAT = 'up{job="mpp-monitor"}'
PLACE = "site, region, regency"
_DURATION_RE = re.compile(r"^(\d+)(s|m|h|d)$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(text: str) -> int:
    """Seconds of a Prometheus duration like 30s, 5m, 2h, 7d (ValueError otherwise)."""
    m = _DURATION_RE.match(text.strip())
    if not m or int(m.group(1)) == 0:
        raise ValueError(f"invalid duration {text!r}: expected e.g. 30s, 5m, 1h, 7d")
    return int(m.group(1)) * _SECONDS[m.group(2)]


@dataclass(frozen=True)
class CentralOptions:
    """What the centre's rules depend on."""

    # no heartbeat sample for this long: the site is dark. Longer than a site's scrape
    # interval plus its remote_write batch deadline (15 s + 10 s rendered by default), so a
    # late batch is not an outage; short enough for the on-call to act within minutes.
    dark_after: str = "5m"
    # a site that sent nothing for this long is forgotten (decommissioned): it stops firing
    remember: str = "7d"
    # the central on-call's team label: the centre's Alertmanager routes it to the regency or
    # province Kominfo on-call, never to an agency's team
    team: str = "pusat"
    interval: str = "1m"
    # the central page's public URL (`mpp-monitor sites`): the runbook link becomes absolute
    runbook_base: str = ""

    @classmethod
    def parse(
        cls, *, dark_after: str = "", team: str = "", remember: str = "", runbook_base: str = ""
    ) -> CentralOptions:
        """Options from command-line text ("" keeps the default); ValueError names the field."""
        from monitor.fields import ID_RE

        d = cls()
        opts = cls(
            dark_after=dark_after or d.dark_after,
            team=team or d.team,
            remember=remember or d.remember,
            runbook_base=runbook_base.rstrip("/"),
        )
        if opts.runbook_base and not re.match(r"^https?://[^\s/@]+(/\S*)?$", opts.runbook_base):
            # never echo it: it may hold a password
            raise ValueError("invalid --runbook-base: an http(s) URL without credentials")
        dark = duration_seconds(opts.dark_after)
        if dark < 10:
            raise ValueError(f"--dark-after {opts.dark_after}: at least 10s")
        if duration_seconds(opts.remember) <= dark:
            raise ValueError(f"remember ({opts.remember}) must be longer than dark_after")
        if not ID_RE.match(opts.team):
            raise ValueError(f"invalid --central-team {opts.team!r}: lower-case id")
        return opts


def _expr(text: str) -> str:
    return LiteralScalarString(text) if "\n" in text else text


def _rec(name: str, expr: str) -> dict[str, Any]:
    return {"record": name, "expr": _expr(expr)}


def central_rules(opts: CentralOptions) -> dict[str, Any]:
    """The rule file's content."""
    dark = {
        "alert": "MppSiteDark",
        "expr": _expr(
            f"group by ({PLACE}) (max_over_time({HEARTBEAT}[{opts.remember}]))\n"
            f"  unless on (site)\n"
            f"group by (site) (max_over_time({HEARTBEAT}[{opts.dark_after}]))\n"
        ),
        "labels": {"severity": "critical", "team": opts.team, "scope": "central"},
        "annotations": {
            "summary": "MPP {{ $labels.site }} gelap: tidak ada data ke pusat",
            "description": (
                "Pusat tidak menerima data dari MPP {{ $labels.site }} "
                f"({{{{ $labels.regency }}}}, {{{{ $labels.region }}}}) selama {opts.dark_after}: "
                "listrik gedung, server pemantau, atau jalur internet ke pusat mati. "
                "Data yang tertahan di situs akan terkirim saat jalur kembali."
            ),
            "summary_en": "MPP {{ $labels.site }} is dark: nothing reaches the centre",
            "description_en": (
                "The centre received nothing from MPP {{ $labels.site }} "
                f"({{{{ $labels.regency }}}}, {{{{ $labels.region }}}}) for {opts.dark_after}: "
                "the building's power, the monitoring server or the path to the centre is down. "
                "Samples held at the site are sent when the path returns."
            ),
            "runbook_url": f"{opts.runbook_base}{RUNBOOK_PATH}",
        },
    }
    # What the site's own recording rules give, or the same from the raw series where a site
    # sends no recording rules (Prometheus in agent mode evaluates none): every site counts.
    ent = f"{PLACE}, team, kind, entity, agency, counter, device, link, via"
    entity_ratio = _rec(
        "central_entity:mpp_probe_success:ratio_rate5m",
        "entity:mpp_probe_success:ratio_rate5m\nor on (site, entity) (\n"
        f"  sum by ({ent}) (rate(mpp_probe_successes_total[5m]))\n  /\n"
        f"  sum by ({ent}) (rate(mpp_probe_runs_total[5m]))\n)\n",
    )
    desks = f"max by ({PLACE}, agency, team, counter) (mpp_can_serve)"
    agency_serving_sum = _rec(
        "central_site_agency:mpp_counters_serving:sum",
        "site_agency:mpp_counters_serving:sum\nor on (site, agency, team)\n"
        f"sum by ({PLACE}, agency, team) ({desks})\n",
    )
    agency_counters = _rec(
        "central_site_agency:mpp_counters:count",
        "site_agency:mpp_counters:count\nor on (site, agency, team)\n"
        f"count by ({PLACE}, agency, team) ({desks})\n",
    )
    site_avail = _rec(
        "site:mpp_probe_success:ratio_rate5m",
        f"avg by ({PLACE}) (central_entity:mpp_probe_success:ratio_rate5m)",
    )
    site_internet = _rec(
        "site:mpp_site_internet_up:max",
        f"max by ({PLACE}) (mpp_site_internet_up)",
    )
    site_serving = _rec(
        "site:mpp_counters_serving:ratio",
        f"sum by ({PLACE}) (central_site_agency:mpp_counters_serving:sum)\n"
        f"/\nsum by ({PLACE}) (central_site_agency:mpp_counters:count)\n",
    )
    region_avail = _rec(
        "region:mpp_probe_success:ratio_rate5m",
        "avg by (region) (site:mpp_probe_success:ratio_rate5m)",
    )
    agency_avail = _rec(
        "agency:mpp_probe_success:ratio_rate5m",
        'avg by (agency) (central_entity:mpp_probe_success:ratio_rate5m{agency!=""})',
    )
    agency_serving = _rec(
        "agency:mpp_counters_serving:ratio",
        "sum by (agency) (central_site_agency:mpp_counters_serving:sum)\n"
        "/\nsum by (agency) (central_site_agency:mpp_counters:count)\n",
    )
    sites_reporting = _rec(
        "region:mpp_sites_reporting:count",
        f"count by (region) (group by ({PLACE}) (max_over_time({HEARTBEAT}[{opts.dark_after}])))",
    )
    return {
        "groups": [
            {"name": "mpp-central-dark", "interval": opts.interval, "rules": [dark]},
            {
                "name": "mpp-central-sites",
                "interval": opts.interval,
                # per-site rules first: the region rule reads the per-site one (same group,
                # evaluated in order at the same instant)
                "rules": [
                    entity_ratio,
                    agency_serving_sum,
                    agency_counters,
                    site_avail,
                    site_internet,
                    site_serving,
                    region_avail,
                    agency_avail,
                    agency_serving,
                    sites_reporting,
                ],
            },
        ]
    }


def render_central(opts: CentralOptions | None = None) -> str:
    """The rule file's text."""
    opts = opts or CentralOptions()
    header = (
        "# Rendered by `mpp-monitor render central`: rules for the central store (vmalert or\n"
        "# the central Prometheus). Check with `promtool check rules`. See docs/central.md.\n"
        f"# MppSiteDark: no heartbeat ({HEARTBEAT}) for {opts.dark_after}; routed by "
        f'team="{opts.team}" to the central on-call only.\n'
    )
    return _dump(central_rules(opts), header)
