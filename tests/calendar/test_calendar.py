"""Service time and maintenance windows (monitor.state.calendar) on a small inventory."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from monitor.inventory import load_plan
from monitor.plan import Plan
from monitor.state import calendar as cal

WITA = zoneinfo.ZoneInfo("Asia/Makassar")
UTC = dt.UTC

INVENTORY = """
sites:
  - id: paser
    name: MPP Kabupaten Paser
    timezone: Asia/Makassar
    service_hours:
      days: [mon, tue, wed, thu, fri, {sat}]
      open: "08:00"
      close: "16:00"
      overrides: {{fri: {{open: "08:00", close: "11:30"}}}}
    closed_days: {{holidays: ID, extra: [2026-02-16]}}
    teams: [{{id: kominfo, name: Diskominfo}}, {{id: it-bpjs, name: BPJS IT}}]
    links:
      - {{id: telkom, name: Telkom, anchors: [127.0.0.1]}}
      - {{id: iconplus, name: ICON+, anchors: [127.0.0.3]}}
    infrastructure:
      - {{id: sw-1, name: Switch 1, kind: switch, address: 127.0.0.2}}
    agencies:
      - id: bpjs
        name: BPJS Kesehatan
        team: it-bpjs
        applications:
          - {{id: vclaim, name: VClaim, url: "http://127.0.0.1:8080/", links: [telkom, iconplus]}}
    counters:
      - {{numbers: "1-2", agency: bpjs, switch: sw-1,
          devices: [{{id: pc, address: "127.0.1.{{n}}"}},
                    {{id: printer, address: "127.0.2.{{n}}"}}]}}
    maintenance: {maintenance}
"""

WINDOWS = """
      - {id: by-agency, scope: {agency: bpjs}, start: 2026-02-10 09:00, end: 2026-02-10 11:00}
      - {id: by-team, scope: {team: kominfo}, start: 2026-02-11 09:00, end: 2026-02-11 10:00}
      - {id: by-counter, scope: {counter: 2}, start: 2026-02-12 09:00, end: 2026-02-12 10:00}
      - {id: by-link, scope: {link: telkom}, start: 2026-02-13 09:00, end: 2026-02-13 10:00}
      - {id: by-entity, scope: {entity: paser/infra/sw-1}, start: 2026-02-14 09:00,
         end: 2026-02-14 10:00}
      - {id: by-target, scope: {target: paser/device/gerai-01-pc/icmp},
         start: 2026-02-19 09:00, end: 2026-02-19 10:00}
      - {id: by-site, scope: {site: true}, start: 2026-02-18 09:00, end: 2026-02-18 10:00}
      - {id: sunday-night, scope: {link: iconplus}, weekly: {days: [sun], start: "22:00",
         end: "24:00"}}
      - {id: monday-early, scope: {link: iconplus}, weekly: {days: [mon], start: "00:00",
         end: "02:00"}}
"""


def make_plan(*, sat: bool = False, windows: str = WINDOWS) -> Plan:
    text = INVENTORY.format(sat="sat" if sat else "", maintenance=windows or "[]")
    text = text.replace(", ]", "]")
    return load_plan("inventory.yaml", text)


@pytest.fixture
def plan() -> Plan:
    return make_plan()


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=WITA)


def hours(intervals: list[tuple[dt.datetime, dt.datetime]]) -> float:
    return sum((b - a).total_seconds() for a, b in intervals) / 3600


# --- service time -------------------------------------------------------------------------


def test_february_2026_service_time_counts_weekdays_friday_and_closed_days(plan: Plan) -> None:
    site = plan.site("paser")
    got = cal.service_intervals(site, local(2026, 2, 1), local(2026, 3, 1))
    # February 2026: Mon-Thu 16 days, Fri 4 days; closed Mon 16 (extra, cuti bersama)
    # and Tue 17 (Tahun Baru Imlek, from the holidays library).
    assert hours(got) == pytest.approx(14 * 8 + 4 * 3.5)
    days = {a.astimezone(WITA).date() for a, _ in got}
    assert dt.date(2026, 2, 16) not in days
    assert dt.date(2026, 2, 17) not in days
    assert dt.date(2026, 2, 18) in days
    assert all(a.tzinfo is not None and a.utcoffset() == dt.timedelta(0) for a, _ in got)


def test_opening_hours_are_site_local_time(plan: Plan) -> None:
    site = plan.site("paser")
    got = cal.service_intervals(site, local(2026, 2, 2), local(2026, 2, 3))
    # 08:00-16:00 WITA (UTC+8) is 00:00-08:00 UTC
    assert got == [(dt.datetime(2026, 2, 2, 0, tzinfo=UTC), dt.datetime(2026, 2, 2, 8, tzinfo=UTC))]


def test_friday_override_shortens_the_day(plan: Plan) -> None:
    site = plan.site("paser")
    got = cal.service_intervals(site, local(2026, 2, 6), local(2026, 2, 7))
    assert got == [(local(2026, 2, 6, 8), local(2026, 2, 6, 11, 30))]
    assert cal.is_service_time(site, local(2026, 2, 6, 11, 29))
    assert not cal.is_service_time(site, local(2026, 2, 6, 11, 30))
    assert cal.is_service_time(site, local(2026, 2, 5, 15, 59))


def test_range_is_clipped(plan: Plan) -> None:
    site = plan.site("paser")
    got = cal.service_intervals(site, local(2026, 2, 2, 9, 15), local(2026, 2, 3, 8, 30))
    assert got == [
        (local(2026, 2, 2, 9, 15), local(2026, 2, 2, 16)),
        (local(2026, 2, 3, 8), local(2026, 2, 3, 8, 30)),
    ]
    assert cal.service_intervals(site, local(2026, 2, 3), local(2026, 2, 2)) == []


def test_independence_day_is_closed(plan: Plan) -> None:
    site = plan.site("paser")
    assert not cal.is_service_time(site, local(2026, 8, 17, 10))  # a Monday
    assert cal.is_service_time(site, local(2026, 8, 18, 10))
    assert cal.service_intervals(site, local(2026, 8, 17), local(2026, 8, 18)) == []


def test_idul_fitri_2026_is_closed_even_on_a_service_saturday() -> None:
    plan = make_plan(sat=True)
    site = plan.site("paser")
    # Idul Fitri 1447 H: Saturday 21 and Sunday 22 March 2026
    assert not cal.is_service_time(site, local(2026, 3, 21, 10))
    assert cal.is_service_time(site, local(2026, 3, 28, 10))  # an ordinary Saturday
    names = cal.closed_days(site, dt.date(2026, 3, 1), dt.date(2026, 3, 31), language="id")
    assert "Idul Fitri" in names[dt.date(2026, 3, 21)]
    english = cal.closed_days(site, dt.date(2026, 3, 1), dt.date(2026, 3, 31), language="en_US")
    assert "Eid al-Fitr" in english[dt.date(2026, 3, 21)]


def test_sunday_is_not_service_time(plan: Plan) -> None:
    site = plan.site("paser")
    assert not cal.is_service_time(site, local(2026, 2, 8, 10))
    assert not cal.is_service_time(site, local(2026, 2, 2, 7, 59))
    assert cal.is_service_time(site, local(2026, 2, 2, 8))


def test_naive_datetimes_are_refused(plan: Plan) -> None:
    site = plan.site("paser")
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.service_intervals(site, dt.datetime(2026, 2, 1), local(2026, 3, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.is_service_time(site, dt.datetime(2026, 2, 2, 10))


# --- maintenance --------------------------------------------------------------------------

ENTITIES = {
    "link-telkom": "paser/link/telkom",
    "link-iconplus": "paser/link/iconplus",
    "switch": "paser/infra/sw-1",
    "app": "paser/application/bpjs-vclaim",
    "pc1": "paser/device/gerai-01-pc",
    "printer1": "paser/device/gerai-01-printer",
    "pc2": "paser/device/gerai-02-pc",
    "printer2": "paser/device/gerai-02-printer",
}


@pytest.mark.parametrize(
    ("day", "covered"),
    [
        (10, {"app", "pc1", "printer1", "pc2", "printer2"}),  # agency bpjs
        (11, {"link-telkom", "link-iconplus", "switch"}),  # team kominfo
        (12, {"pc2", "printer2"}),  # counter 2
        (13, {"link-telkom"}),  # link telkom
        (14, {"switch"}),  # entity
        (19, {"pc1"}),  # target -> its entity
        (18, set(ENTITIES)),  # site
    ],
)
def test_scope_matching(plan: Plan, day: int, covered: set[str]) -> None:
    site = plan.site("paser")
    start, end = local(2026, 2, day), local(2026, 2, day + 1)
    for name, eid in ENTITIES.items():
        got = cal.maintenance_intervals(plan, site, eid, start, end)
        if name in covered:
            end_hour = 11 if day == 10 else 10
            assert got == [(local(2026, 2, day, 9), local(2026, 2, day, end_hour))], name
            assert cal.in_maintenance(plan, eid, local(2026, 2, day, 9, 30).timestamp()), name
        else:
            assert got == [], name
            assert not cal.in_maintenance(plan, eid, local(2026, 2, day, 9, 30).timestamp()), name


def test_weekly_window_across_the_week_boundary(plan: Plan) -> None:
    eid = ENTITIES["link-iconplus"]
    # Saturday 21 to Tuesday 24 February: Sunday 22:00-24:00 then Monday 00:00-02:00 (merged)
    got = cal.maintenance_intervals(plan, "paser", eid, local(2026, 2, 21), local(2026, 2, 24))
    assert got == [(local(2026, 2, 22, 22), local(2026, 2, 23, 2))]
    # the instants on both sides of the boundary
    assert cal.in_maintenance(plan, eid, local(2026, 2, 22, 23, 59, 59).timestamp())
    assert cal.in_maintenance(plan, eid, local(2026, 2, 23, 0, 0).timestamp())
    assert cal.in_maintenance(plan, eid, local(2026, 2, 23, 1, 59).timestamp())
    assert not cal.in_maintenance(plan, eid, local(2026, 2, 23, 2, 0).timestamp())
    assert not cal.in_maintenance(plan, eid, local(2026, 2, 22, 21, 59).timestamp())
    assert not cal.in_maintenance(plan, ENTITIES["link-telkom"], local(2026, 2, 22, 23).timestamp())
    # a range that starts inside an occurrence is clipped
    got = cal.maintenance_intervals(
        plan, "paser", eid, local(2026, 2, 23, 1), local(2026, 2, 23, 5)
    )
    assert got == [(local(2026, 2, 23, 1), local(2026, 2, 23, 2))]


def test_one_off_window_is_site_local_and_half_open(plan: Plan) -> None:
    eid = ENTITIES["app"]
    assert not cal.in_maintenance(plan, eid, local(2026, 2, 10, 8, 59, 59).timestamp())
    assert cal.in_maintenance(plan, eid, local(2026, 2, 10, 9).timestamp())
    assert not cal.in_maintenance(plan, eid, local(2026, 2, 10, 11).timestamp())
    # 09:00 WITA is 01:00 UTC
    got = cal.maintenance_intervals(plan, "paser", eid, local(2026, 2, 1), local(2026, 3, 1))
    assert got[0][0] == dt.datetime(2026, 2, 10, 1, tzinfo=UTC)


def test_in_maintenance_agrees_with_intervals_over_a_month(plan: Plan) -> None:
    start, end = local(2026, 2, 1), local(2026, 3, 1)
    for eid in ENTITIES.values():
        intervals = cal.maintenance_intervals(plan, "paser", eid, start, end)
        t = start.timestamp()
        while t < end.timestamp():
            expected = any(a.timestamp() <= t < b.timestamp() for a, b in intervals)
            assert cal.in_maintenance(plan, eid, t) is expected, (eid, t)
            t += 1800


def test_index_is_rebuilt_for_a_new_plan() -> None:
    first = make_plan()
    second = make_plan(windows="[]")
    when = local(2026, 2, 18, 9, 30).timestamp()
    assert cal.in_maintenance(first, ENTITIES["pc1"], when)
    assert not cal.in_maintenance(second, ENTITIES["pc1"], when)
    assert cal.in_maintenance(first, ENTITIES["pc1"], when)
    assert cal.maintenance_index(first) is cal.maintenance_index(first)
    assert cal.MaintenanceIndex(second).entities() == frozenset()


def test_unknown_entity_is_never_in_maintenance(plan: Plan) -> None:
    assert not cal.in_maintenance(plan, "paser/device/nope", local(2026, 2, 18, 9, 30).timestamp())


def test_counter_maintenance_includes_its_devices_and_applications(plan: Plan) -> None:
    c1, c2 = plan.counters
    start, end = local(2026, 2, 1), local(2026, 3, 1)
    got1 = cal.counter_maintenance_intervals(plan, "paser", c1, start, end)
    got2 = cal.counter_maintenance_intervals(plan, "paser", c2, start, end)
    agency = (local(2026, 2, 10, 9), local(2026, 2, 10, 11))
    site = (local(2026, 2, 18, 9), local(2026, 2, 18, 10))
    # counter 1: agency (10th), site (18th), its pc's target (19th)
    assert got1 == [agency, site, (local(2026, 2, 19, 9), local(2026, 2, 19, 10))]
    # counter 2: agency (10th), counter 2 (12th), site (18th)
    assert got2 == [agency, (local(2026, 2, 12, 9), local(2026, 2, 12, 10)), site]
