"""Service hours, closed days and maintenance windows: the value types the inventory
validates and the calendar (and everything at runtime) computes with."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from monitor.fields import Id, Strict

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _parse_clock(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads 08:00 unquoted as sexagesimal minutes: 480 (and 25:61 as 1561)
        if value == 24 * 60:
            return dt.time(23, 59, 59, 999999)  # 24:00, as the quoted form reads
        if not 0 <= value < 24 * 60:
            raise ValueError(f"invalid time of day ({value} minutes): expected HH:MM")
        return dt.time(value // 60, value % 60)
    if isinstance(value, str):
        m = re.match(r"^(\d{1,2}):(\d{2})$", value.strip())
        if not m or int(m.group(1)) > 24 or int(m.group(2)) > 59:
            raise ValueError(f"invalid time of day {value!r}: expected HH:MM")
        if int(m.group(1)) == 24:
            if int(m.group(2)):
                raise ValueError(f"invalid time of day {value!r}")
            return dt.time(23, 59, 59, 999999)
        return dt.time(int(m.group(1)), int(m.group(2)))
    if isinstance(value, dt.time) and value.tzinfo is None:
        return value
    # pydantic would read a float as seconds of a UTC time, which a local time cannot be
    # compared with (TypeError, not a config error)
    raise ValueError(f"invalid time of day {value!r}: expected HH:MM")


Clock = Annotated[dt.time, BeforeValidator(_parse_clock)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class ServiceHours(Strict):
    """When the building serves citizens (site local time)."""

    days: list[Weekday] = ["mon", "tue", "wed", "thu", "fri"]
    open: Clock = dt.time(8, 0)
    close: Clock = dt.time(16, 0)
    # per-day overrides, e.g. {fri: {open: "08:00", close: "11:30"}}
    overrides: dict[Weekday, DayHours] = {}

    @model_validator(mode="after")
    def _order(self) -> ServiceHours:
        if self.close <= self.open:
            raise ValueError(f"close ({self.close:%H:%M}) must be after open ({self.open:%H:%M})")
        return self


class DayHours(Strict):
    open: Clock
    close: Clock

    @model_validator(mode="after")
    def _order(self) -> DayHours:
        if self.close <= self.open:
            raise ValueError(f"close ({self.close:%H:%M}) must be after open ({self.open:%H:%M})")
        return self


class ClosedDays(Strict):
    """Days the building is closed: a country's public holidays plus extra dates."""

    holidays: str | None = "ID"  # country code for the `holidays` library; null for none
    subdivision: str | None = None
    extra: list[dt.date] = []  # cuti bersama, local closures...

    @field_validator("holidays")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        if value is None:
            return value
        import holidays

        if value not in holidays.list_supported_countries():
            raise ValueError(f"unknown holiday calendar {value!r} (use a country code such as ID)")
        return value

    @model_validator(mode="after")
    def _known_subdivision(self) -> ClosedDays:
        # the holidays library raises NotImplementedError for an unknown one, at run time
        if self.subdivision is None or self.holidays is None:
            return self
        import holidays

        known = holidays.list_supported_countries()[self.holidays]
        if self.subdivision not in known:
            listed = ", ".join(known[:12]) if known else "none"
            raise ValueError(
                f"unknown subdivision {self.subdivision!r} of {self.holidays} (known: {listed})"
            )
        return self


class Scope(Strict):
    """What a maintenance window covers: exactly one of these."""

    team: Id | None = None
    agency: Id | None = None
    counter: int | None = None
    link: Id | None = None
    entity: str | None = None  # an entity id such as paser/infra/sw-core
    target: str | None = None  # a target id
    site: bool = False  # the whole site

    @model_validator(mode="after")
    def _exactly_one(self) -> Scope:
        given = [k for k, v in self.model_dump().items() if v not in (None, False)]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of team, agency, counter, link, entity, target, site"
            )
        return self


class Weekly(Strict):
    days: list[Weekday] = Field(min_length=1)
    start: Clock
    end: Clock

    @model_validator(mode="after")
    def _order(self) -> Weekly:
        if self.end <= self.start:
            raise ValueError(
                f"end ({self.end:%H:%M}) must be after start ({self.start:%H:%M}); "
                "a window past midnight is two windows (until 24:00, then from 00:00)"
            )
        return self


class Maintenance(Strict):
    """A planned window: one-off (start/end: site local time, or both with an offset) or
    weekly."""

    id: Id
    description: str = ""
    scope: Scope
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    weekly: Weekly | None = None

    @model_validator(mode="after")
    def _shape(self) -> Maintenance:
        if self.weekly is None:
            if self.start is None or self.end is None:
                raise ValueError("give start and end (a one-off window) or weekly")
            if (self.start.tzinfo is None) != (self.end.tzinfo is None):
                # naive is site local time; comparing it with an offset would need the site
                raise ValueError(
                    "give start and end both in site local time (no UTC offset) "
                    "or both with an offset"
                )
            if self.end <= self.start:
                raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        elif self.start is not None or self.end is not None:
            raise ValueError("give either start/end or weekly, not both")
        return self


ServiceHours.model_rebuild()
