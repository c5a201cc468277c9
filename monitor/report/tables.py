"""The report's figures as CSV files for spreadsheets (UTF-8, comma-separated, dot decimals).

* ``availability.csv``: one row per team, agency, application, counter, device, link (and
  the site's internet and counters totals), in hours and percent;
* ``attribution.csv``: who each row's unavailable time is charged to;
* ``incidents.csv``: one row per incident;
* ``teams.csv``: accountability and MTTR per team;
* ``daily.csv``: counters and applications per day;
* ``providers.csv``: each internet uplink against its contracted SLA.

Their columns are declared in monitor/report/columns.py, with the HTML page's.
"""

from __future__ import annotations

from monitor.report.columns import (
    ATTRIBUTION,
    DAILY,
    INCIDENTS,
    PROVIDERS,
    ROW_COLUMNS,
    TEAMS,
    Charge,
    csv_table,
)
from monitor.report.compute import Report, Row


def availability_csv(report: Report) -> str:
    """availability.csv."""
    totals = [
        Row("site", "internet", "internet", "", report.internet),
        Row("site", "counters", "counters", "", report.counters_total),
    ]
    return csv_table(report, ROW_COLUMNS, [*report.rows, *totals])


def attribution_csv(report: Report) -> str:
    """attribution.csv: (row, what, charged team) -> hours and share of known time."""
    charges = [
        Charge(r, what, key, seconds)
        for r in report.rows
        for (what, key), seconds in sorted(r.figures.charged.items())
        if seconds > 0
    ]
    return csv_table(report, ATTRIBUTION, charges)


def incidents_csv(report: Report) -> str:
    """incidents.csv."""
    return csv_table(report, INCIDENTS, report.incidents)


def teams_csv(report: Report) -> str:
    """teams.csv."""
    return csv_table(report, TEAMS, report.teams)


def daily_csv(report: Report) -> str:
    """daily.csv."""
    return csv_table(report, DAILY, report.days)


def providers_csv(report: Report) -> str:
    """providers.csv."""
    return csv_table(report, PROVIDERS, report.providers())


def render_csv(report: Report) -> dict[str, str]:
    """File name -> CSV text."""
    return {
        "availability.csv": availability_csv(report),
        "attribution.csv": attribution_csv(report),
        "incidents.csv": incidents_csv(report),
        "teams.csv": teams_csv(report),
        "daily.csv": daily_csv(report),
        "providers.csv": providers_csv(report),
    }
