"""The report's figures as CSV files for spreadsheets (UTF-8, comma-separated, dot decimals).

* ``availability.csv``: one row per team, agency, application, counter, device, link (and
  the site's internet and counters totals), in hours and percent;
* ``attribution.csv``: who each row's unavailable time is charged to;
* ``incidents.csv``: one row per incident;
* ``teams.csv``: accountability and MTTR per team;
* ``daily.csv``: counters and applications per day.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

from monitor.report.compute import Figures, Report, Row


def _text(value: str) -> str:
    """Free text from the inventory, kept from being read as a formula by a spreadsheet."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _h(seconds: float) -> str:
    return f"{seconds / 3600:.4f}"


def _pct(ratio: float | None) -> str:
    return "" if ratio is None else f"{ratio * 100:.4f}"


def _iso(ts: float, report: Report) -> str:
    return dt.datetime.fromtimestamp(ts, report.site.tz).isoformat(timespec="seconds")


def _write(header: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


AVAILABILITY = [
    "site",
    "month",
    "level",
    "id",
    "name",
    "team",
    "agency",
    "counter",
    "link",
    "kind",
    "things",
    "service_hours",
    "maintenance_hours",
    "unknown_hours",
    "known_hours",
    "up_hours",
    "down_hours",
    "unreachable_hours",
    "degraded_hours",
    "availability_pct",
    "own_availability_pct",
]


def _fig_row(report: Report, level: str, ident: str, name: str, team: str, f: Figures,
             own: float | None, row: Row | None = None) -> list[str]:  # fmt: skip
    return [
        report.site.id,
        report.month,
        level,
        ident,
        _text(name),
        team,
        row.agency if row else "",
        row.counter if row else "",
        row.link if row else "",
        row.kind if row else "",
        str(row.entities if row else 1),
        _h(f.service),
        _h(f.maintenance),
        _h(f.unknown),
        _h(f.known),
        _h(f.up),
        _h(f.down),
        _h(f.unreachable),
        _h(f.degraded),
        _pct(f.availability()),
        _pct(own),
    ]


def availability_csv(report: Report) -> str:
    """availability.csv."""
    rows = [
        _fig_row(report, r.level, r.id, r.name, r.team, r.figures, r.own, r) for r in report.rows
    ]
    rows.append(_fig_row(report, "site", "internet", "internet", "", report.internet, None))
    rows.append(_fig_row(report, "site", "counters", "counters", "", report.counters_total, None))
    return _write(AVAILABILITY, rows)


def attribution_csv(report: Report) -> str:
    """attribution.csv: (row, what, charged team) -> hours and share of known time."""
    header = [
        "site",
        "month",
        "level",
        "id",
        "name",
        "team",
        "what",
        "charged_team",
        "own",
        "hours",
        "pct_of_known",
    ]
    rows = []
    for r in report.rows:
        known = r.figures.known
        for (what, key), seconds in sorted(r.figures.charged.items()):
            if seconds <= 0:
                continue
            rows.append(
                [
                    report.site.id,
                    report.month,
                    r.level,
                    r.id,
                    _text(r.name),
                    r.team,
                    what,
                    key,
                    "yes" if r.team in key.split("+") else "no",
                    _h(seconds),
                    _pct(seconds / known if known > 0 else None),
                ]
            )
    return _write(header, rows)


def incidents_csv(report: Report) -> str:
    """incidents.csv."""
    header = [
        "site",
        "start",
        "end",
        "duration_minutes",
        "service_minutes",
        "level",
        "id",
        "name",
        "status",
        "owner_team",
        "team",
        "agency",
        "counter",
        "link",
        "cause",
        "began_before_month",
        "ongoing_at_end",
    ]
    rows = [
        [
            report.site.id,
            _iso(i.start, report),
            _iso(i.end, report),
            f"{i.duration / 60:.2f}",
            f"{i.service / 60:.2f}",
            i.level,
            i.id,
            _text(i.name),
            i.status,
            i.owner,
            i.team,
            i.agency,
            i.counter,
            i.link,
            _text(i.cause),
            "yes" if i.open_start else "no",
            "yes" if i.open_end else "no",
        ]
        for i in report.incidents
    ]
    return _write(header, rows)


def teams_csv(report: Report) -> str:
    """teams.csv."""
    header = [
        "site",
        "month",
        "team",
        "name",
        "own_downtime_hours",
        "caused_unreachable_hours",
        "counters_not_serving_hours",
        "incidents",
        "mttr_minutes",
    ]
    rows = [
        [
            report.site.id,
            report.month,
            s.team,
            _text(s.name),
            _h(s.own_down),
            _h(s.caused_for_others),
            _h(s.counters),
            str(s.incidents),
            "" if s.mttr is None else f"{s.mttr / 60:.2f}",
        ]
        for s in report.teams
    ]
    return _write(header, rows)


def daily_csv(report: Report) -> str:
    """daily.csv."""
    header = [
        "site",
        "date",
        "service_hours",
        "counters_known_hours",
        "counters_serving_hours",
        "counters_pct",
        "applications_known_hours",
        "applications_up_hours",
        "applications_pct",
    ]
    rows = [
        [
            report.site.id,
            d.date.isoformat(),
            _h(d.service),
            _h(d.counters.known),
            _h(d.counters.up),
            _pct(d.counters.availability()),
            _h(d.applications.known),
            _h(d.applications.up),
            _pct(d.applications.availability()),
        ]
        for d in report.days
    ]
    return _write(header, rows)


def render_csv(report: Report) -> dict[str, str]:
    """File name -> CSV text."""
    return {
        "availability.csv": availability_csv(report),
        "attribution.csv": attribution_csv(report),
        "incidents.csv": incidents_csv(report),
        "teams.csv": teams_csv(report),
        "daily.csv": daily_csv(report),
    }
