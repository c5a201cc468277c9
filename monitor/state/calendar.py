"""Service time and planned maintenance of a site, from the inventory: pure functions.

Service time is the site's ``service_hours`` (days, open, close, per-day overrides) in the
site's time zone, minus the country's public holidays (the ``holidays`` library, country
and optional subdivision from ``closed_days``) and ``closed_days.extra``. An override only
changes the hours of a day listed in ``days``; it does not open a closed day.

Maintenance windows (``site.maintenance``) are one-off (``start``/``end``: naive values are
site local time, aware values are taken as given) or weekly (``days`` + ``start``/``end`` in
site local time). A window covers an entity when its scope matches:

=========  ==========================================================
scope      entities covered
=========  ==========================================================
team       entities owned by the team (``Entity.team``)
agency     entities labelled with the agency (its applications, its counters' devices)
counter    entities labelled with the counter (``counter_label(n)``): its devices
link       the link entity
entity     that entity
target     the entity the target checks
site       every entity of the site
=========  ==========================================================

All datetimes in and out are timezone-aware; intervals are half-open ``[start, end)``.
The runtime calls :func:`in_maintenance` on every evaluation: it uses an index built once
per :class:`~monitor.plan.Plan` (:class:`MaintenanceIndex`).
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from monitor.hours import Maintenance, Scope, ServiceHours, Weekday
from monitor.plan import Counter, Entity, Plan, SiteInfo, counter_label

Interval = tuple[dt.datetime, dt.datetime]

_UTC = dt.UTC
_DAY = dt.timedelta(days=1)
_WEEKDAY_NAMES: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_NUMBER = {name: i for i, name in enumerate(_WEEKDAY_NAMES)}


def _aware(value: dt.datetime, what: str) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(_UTC)


def _local_dt(day: dt.date, clock: dt.time, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """Site-local day + clock as an aware datetime; "24:00" (time.max) is the next midnight."""
    if clock == dt.time.max:
        return dt.datetime.combine(day + _DAY, dt.time(0), tzinfo=tz)
    return dt.datetime.combine(day, clock, tzinfo=tz)


def _local_days(tz: zoneinfo.ZoneInfo, start: dt.datetime, end: dt.datetime) -> Iterator[dt.date]:
    """Every site-local date that can hold part of [start, end) (one day of margin)."""
    day = start.astimezone(tz).date() - _DAY
    last = end.astimezone(tz).date() + _DAY
    while day <= last:
        yield day
        day += _DAY


def _clip(pieces: Iterable[Interval], start: dt.datetime, end: dt.datetime) -> list[Interval]:
    out: list[Interval] = []
    for a, b in pieces:
        a, b = max(a, start), min(b, end)
        if a < b:
            out.append((a, b))
    return out


_When = TypeVar("_When", dt.datetime, float)


def merge_intervals(pieces: Iterable[tuple[_When, _When]]) -> list[tuple[_When, _When]]:
    """Sort intervals (of datetimes or of unix seconds) and merge overlapping or touching ones."""
    out: list[tuple[_When, _When]] = []
    for a, b in sorted(pieces):
        if out and a <= out[-1][1]:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


# ---------------------------------------------------------------------------------------
# closed days


@functools.lru_cache(maxsize=64)
def _holidays(
    country: str, subdivision: str | None, year: int, language: str
) -> dict[dt.date, str]:
    import holidays

    try:
        table = holidays.country_holidays(
            country, subdiv=subdivision or None, years=year, language=language
        )
    except (NotImplementedError, ValueError, KeyError):
        # a country without that language: its default names
        table = holidays.country_holidays(country, subdiv=subdivision or None, years=year)
    return {d: str(name) for d, name in sorted(table.items())}


def closed_days(
    site: SiteInfo, first: dt.date, last: dt.date, language: str = "id"
) -> dict[dt.date, str]:
    """Public holidays and extra closed dates in [first, last], with their names."""
    cd = site.closed_days
    out: dict[dt.date, str] = {}
    if cd.holidays:
        for year in range(first.year, last.year + 1):
            for day, name in _holidays(cd.holidays, cd.subdivision, year, language).items():
                if first <= day <= last:
                    out[day] = name
    extra_name = "Tutup (inventaris)" if language == "id" else "Closed (inventory)"
    for day in cd.extra:
        if first <= day <= last:
            out.setdefault(day, extra_name)
    return dict(sorted(out.items()))


def is_closed_day(site: SiteInfo, day: dt.date) -> bool:
    """True if the site-local date is a public holiday or an extra closed date."""
    cd = site.closed_days
    if day in cd.extra:
        return True
    return bool(cd.holidays) and day in _holidays(cd.holidays or "", cd.subdivision, day.year, "id")


def day_hours(hours: ServiceHours, day: dt.date) -> tuple[dt.time, dt.time] | None:
    """Opening and closing clock of a weekday from service_hours (None when not a service day)."""
    name = _WEEKDAY_NAMES[day.weekday()]
    if name not in hours.days:
        return None
    override = hours.overrides.get(name)
    if override is not None:
        return override.open, override.close
    return hours.open, hours.close


# ---------------------------------------------------------------------------------------
# service time


def service_intervals(
    site: SiteInfo, start_utc: dt.datetime, end_utc: dt.datetime
) -> list[Interval]:
    """The site's service time within [start_utc, end_utc), as sorted UTC intervals."""
    start, end = _aware(start_utc, "start_utc"), _aware(end_utc, "end_utc")
    if end <= start:
        return []
    tz = site.tz
    pieces: list[Interval] = []
    for day in _local_days(tz, start, end):
        hours = day_hours(site.service_hours, day)
        if hours is None or is_closed_day(site, day):
            continue
        opened = _local_dt(day, hours[0], tz).astimezone(_UTC)
        closed = _local_dt(day, hours[1], tz).astimezone(_UTC)
        pieces.append((opened, closed))
    return merge_intervals(_clip(pieces, start, end))


def is_service_time(site: SiteInfo, when_utc: dt.datetime) -> bool:
    """True if the instant falls in the site's service time."""
    local = _aware(when_utc, "when_utc").astimezone(site.tz)
    day = local.date()
    hours = day_hours(site.service_hours, day)
    if hours is None or is_closed_day(site, day):
        return False
    return _local_dt(day, hours[0], site.tz) <= local < _local_dt(day, hours[1], site.tz)


# ---------------------------------------------------------------------------------------
# maintenance


def scope_text(scope: Scope) -> str:
    """A short human form of a scope, e.g. "agency dukcapil"."""
    for key, value in scope.model_dump().items():
        if value not in (None, False):
            return "site" if key == "site" else f"{key} {value}"
    return "?"


def window_covers(plan: Plan, window: Maintenance, entity: Entity) -> bool:
    """True if the window's scope covers the entity (same site assumed)."""
    sc = window.scope
    if sc.site:
        return True
    if sc.team is not None:
        return entity.team == sc.team
    if sc.agency is not None:
        return entity.labels.get("agency", "") == sc.agency
    if sc.counter is not None:
        return entity.labels.get("counter", "") == counter_label(sc.counter)
    if sc.link is not None:
        return entity.kind == "link" and entity.labels.get("link", "") == sc.link
    if sc.entity is not None:
        return entity.id == sc.entity
    if sc.target is not None:
        try:
            return plan.target(sc.target).entity == entity.id
        except KeyError:
            return False
    return False


def window_covers_counter(plan: Plan, window: Maintenance, counter: Counter) -> bool:
    """True if the window covers the counter itself, one of its devices or applications."""
    sc = window.scope
    if sc.site:
        return True
    if sc.team is not None and counter.team == sc.team:
        return True
    if sc.agency is not None and counter.agency == sc.agency:
        return True
    if sc.counter is not None and sc.counter == counter.number:
        return True
    for eid in (*counter.devices, *counter.applications):
        entity = plan.entities.get(eid)
        if entity is not None and window_covers(plan, window, entity):
            return True
    return False


def window_intervals(
    site: SiteInfo, window: Maintenance, start_utc: dt.datetime, end_utc: dt.datetime
) -> list[Interval]:
    """The occurrences of one window within [start_utc, end_utc), as UTC intervals."""
    start, end = _aware(start_utc, "start_utc"), _aware(end_utc, "end_utc")
    tz = site.tz
    pieces: list[Interval] = []
    if window.weekly is None:
        assert window.start is not None and window.end is not None
        a, b = window.start, window.end
        a = a.replace(tzinfo=tz) if a.tzinfo is None else a
        b = b.replace(tzinfo=tz) if b.tzinfo is None else b
        pieces.append((a.astimezone(_UTC), b.astimezone(_UTC)))
    else:
        wk = window.weekly
        numbers = {_WEEKDAY_NUMBER[d] for d in wk.days}
        for day in _local_days(tz, start, end):
            if day.weekday() in numbers:
                pieces.append(
                    (
                        _local_dt(day, wk.start, tz).astimezone(_UTC),
                        _local_dt(day, wk.end, tz).astimezone(_UTC),
                    )
                )
    return merge_intervals(_clip(pieces, start, end))


def _site_of(plan: Plan, site: SiteInfo | str) -> SiteInfo:
    return plan.site(site) if isinstance(site, str) else site


def maintenance_intervals(
    plan: Plan,
    site: SiteInfo | str,
    entity_id: str,
    start_utc: dt.datetime,
    end_utc: dt.datetime,
) -> list[Interval]:
    """Planned maintenance of one entity within [start_utc, end_utc), merged UTC intervals."""
    st = _site_of(plan, site)
    entity = plan.entities[entity_id]
    pieces: list[Interval] = []
    for window in st.maintenance:
        if window_covers(plan, window, entity):
            pieces.extend(window_intervals(st, window, start_utc, end_utc))
    return merge_intervals(pieces)


def counter_maintenance_intervals(
    plan: Plan,
    site: SiteInfo | str,
    counter: Counter,
    start_utc: dt.datetime,
    end_utc: dt.datetime,
) -> list[Interval]:
    """Planned maintenance of a counter (itself, its devices or its critical applications)."""
    st = _site_of(plan, site)
    pieces: list[Interval] = []
    for window in st.maintenance:
        if window_covers_counter(plan, window, counter):
            pieces.extend(window_intervals(st, window, start_utc, end_utc))
    return merge_intervals(pieces)


@dataclass(frozen=True, slots=True)
class _EntityWindows:
    tz: zoneinfo.ZoneInfo
    once: tuple[tuple[float, float], ...]  # unix seconds [start, end)
    weekly: tuple[tuple[frozenset[int], float, float], ...]  # weekdays, seconds of local day


class MaintenanceIndex:
    """Per-entity maintenance windows of a plan, precomputed for cheap lookups."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self._by_entity: dict[str, _EntityWindows] = {}
        sites = {s.id: s for s in plan.sites}
        for entity in plan.entities.values():
            site = sites.get(entity.site)
            if site is None or not site.maintenance:
                continue
            once: list[tuple[float, float]] = []
            weekly: list[tuple[frozenset[int], float, float]] = []
            tz = site.tz
            for window in site.maintenance:
                if not window_covers(plan, window, entity):
                    continue
                if window.weekly is None:
                    assert window.start is not None and window.end is not None
                    a, b = window.start, window.end
                    a = a.replace(tzinfo=tz) if a.tzinfo is None else a
                    b = b.replace(tzinfo=tz) if b.tzinfo is None else b
                    once.append((a.timestamp(), b.timestamp()))
                else:
                    wk = window.weekly
                    end = 86400.0 if wk.end == dt.time.max else _seconds_of_day(wk.end)
                    days = frozenset(_WEEKDAY_NUMBER[d] for d in wk.days)
                    weekly.append((days, _seconds_of_day(wk.start), end))
            if once or weekly:
                self._by_entity[entity.id] = _EntityWindows(tz, tuple(once), tuple(weekly))

    def active(self, entity_id: str, wall_seconds: float) -> bool:
        """True if a planned window covers the entity at this unix time."""
        windows = self._by_entity.get(entity_id)
        if windows is None:
            return False
        for a, b in windows.once:
            if a <= wall_seconds < b:
                return True
        if windows.weekly:
            local = dt.datetime.fromtimestamp(wall_seconds, windows.tz)
            sod = _seconds_of_day(local.time())
            wd = local.weekday()
            for days, a, b in windows.weekly:
                if wd in days and a <= sod < b:
                    return True
        return False

    def entities(self) -> frozenset[str]:
        """Ids of the entities that have at least one window."""
        return frozenset(self._by_entity)


def _seconds_of_day(clock: dt.time) -> float:
    return clock.hour * 3600 + clock.minute * 60 + clock.second + clock.microsecond / 1e6


_index_cache: tuple[Plan, MaintenanceIndex] | None = None


def maintenance_index(plan: Plan) -> MaintenanceIndex:
    """The MaintenanceIndex of a plan, built on first use and kept until the plan changes."""
    global _index_cache
    cached = _index_cache
    if cached is not None and cached[0] is plan:
        return cached[1]
    index = MaintenanceIndex(plan)
    _index_cache = (plan, index)
    return index


def in_maintenance(plan: Plan, entity_id: str, wall_seconds: float) -> bool:
    """True if a planned maintenance window covers the entity at this unix time."""
    return maintenance_index(plan).active(entity_id, wall_seconds)
