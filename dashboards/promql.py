"""The PromQL of the dashboards: label matchers on their variables, and query builders.

The queries read mpp-monitor's metric families (docs/metrics.md) and the series Prometheus
adds itself (``up``, ``scrape_*``, ``ALERTS``); tests/dashboards/ run every one of them on a
real Prometheus scraping the real exporter.
"""

from __future__ import annotations

# Label matchers, all regex so that multi-value and "All" (.*) selections work.
# region is an external label: present at the centre, absent (and matched by ".*") at a site
SITE = 'site=~"$site", region=~"$region"'
AGENCY = 'agency=~"$agency"'
TEAM = 'team=~"$team"'
LINK = 'link=~"$link"'
COUNTER = 'counter=~"$counter"'
JOB = 'job=~"$job"'
OWNER_TEAM = 'owner_team=~"$team"'
FAILED = 'status=~"down|unreachable"'
DOWN = 'status="down"'
UNREACHABLE = 'status="unreachable"'
LINK_DOWN = 'state="down"'
RTT = 'phase="rtt"'
CONNECT = 'phase="connect"'
NOTIFY_FAILED = 'result=~"failed|dropped"'

# Numeric codes for the status enums (state timelines and stats need one number per thing).
STATUS_CODES = (("up", 1), ("down", 2), ("unreachable", 3), ("maintenance", 4), ("unknown", 5))
LINK_STATE_CODES = (("up", 1), ("degraded", 2), ("down", 3))


def sel(metric: str, *matchers: str) -> str:
    """A selector: metric{m1, m2, ...}."""
    return metric + "{" + ", ".join(matchers) + "}"


def status_code(by: str, *matchers: str) -> str:
    """One number per entity from mpp_entity_status: 1 up, 2 down, 3 unreachable, ..."""
    parts = [
        "(" + sel("mpp_entity_status", *matchers, 'status="' + s + '"') + f" == 1) * {code}"
        for s, code in STATUS_CODES
    ]
    return f"max by ({by}) (\n  " + "\n  or ".join(parts) + "\n)"


def link_state_code(*matchers: str) -> str:
    """One number per link from mpp_link_state: 1 up, 2 degraded, 3 down."""
    parts = [
        "(" + sel("mpp_link_state", *matchers, 'state="' + s + '"') + f" == 1) * {code}"
        for s, code in LINK_STATE_CODES
    ]
    return "max by (link) (\n  " + "\n  or ".join(parts) + "\n)"


def with_name(expr: str) -> str:
    """Add a short ``name`` label (entity id without ``<site>/<kind>/``) for legends."""
    return f'label_replace(\n{expr},\n"name", "$1", "entity", "[^/]+/[^/]+/(.+)")'


def open_hours() -> str:
    """1 per site while it is within service hours (mpp_site_service_open)."""
    return f"max by (site) ({sel('mpp_site_service_open', SITE)})"


SUBQUERY = "[$__range:$__interval]"
SUBQUERY_POINTS = 10000


def in_service_hours(expr: str) -> str:
    """Count, over the range, the sub-query steps of ``expr`` that fall in service hours."""
    return (
        f"sum_over_time((\n  ({expr})\n  * on (site) group_left ()\n  {open_hours()}\n){SUBQUERY})"
    )


def sh_ratio(by: str, num: str, den: str) -> str:
    """Ratio of service-hours step counts: sum(num) / sum(den), grouped by ``by``."""
    return f"sum by ({by}) ({in_service_hours(num)})\n/\nsum by ({by}) ({in_service_hours(den)})"


def fault_table_expr(*matchers: str) -> str:
    """Entities failed now, with their status and the team that must act."""
    return (
        "max by (site, kind, entity, team, owner_team, status) (\n"
        f"  ({sel('mpp_entity_fault_owner', *matchers)} == 1)\n"
        "  * on (entity) group_left (status)\n"
        "  max by (entity, status) "
        f"({sel('mpp_entity_status', *matchers, FAILED)} == 1)\n)"
    )


def probe_ratio(by: str, *matchers: str, window: str = "$__range") -> str:
    """Share of successful probe runs (from the cumulative counters: nothing lost)."""
    return (
        f"sum by ({by}) (increase({sel('mpp_probe_successes_total', *matchers)}[{window}]))\n/\n"
        f"sum by ({by}) (increase({sel('mpp_probe_runs_total', *matchers)}[{window}]))"
    )
