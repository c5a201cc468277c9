"""The inventory model: what people write in inventory.yaml, validated whole.

Shape (see examples/mpp-paser.yaml for a complete building)::

    defaults: {interval: 30s, timeout: 5s, down_after: 2, up_after: 2}
    sites:
      - id: paser
        name: MPP Kabupaten Paser
        timezone: Asia/Makassar
        region: kaltim            # optional: labels for the central store
        regency: paser
        service_hours: {days: [mon, tue, wed, thu, fri], open: "08:00", close: "16:00"}
        closed_days: {holidays: ID, extra: [2026-03-20]}
        network_team: kominfo
        teams: [{id, name, channels: [...]}]
        links: [{id, name, provider, team, source, anchors: [...], degraded: {loss, latency}}]
        infrastructure: [{id, name, kind, address, checks, parent}]
        agencies: [{id, name, team, applications: [{id, name, url | address, links, ...}]}]
        counters: [{number, agency, name, switch, devices: [{id, kind, address, checks}]}]
        maintenance: [{id, scope: {team|agency|counter|link|entity|target: X}, start/end | weekly}]
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    field_validator,
    model_validator,
)

from monitor.fields import (
    Host,
    Id,
    Interval,
    IpAddress,
    Name,
    PositiveSeconds,
    Strict,
    Url,
    check_host,
    check_url,
)
from monitor.hours import ClosedDays, Maintenance, ServiceHours
from monitor.notify.channels import Channel, channel_names
from probes.registry import ProbeKind
from probes.settings import MAX_CERT_WARNING_DAYS

# {n} / {n+K}: the counter number (plus K) in a counter device's address or URL.
TEMPLATE_RE = re.compile(r"\{n(?:\s*\+\s*(\d+))?\}")


def _check_url_template(value: str) -> str:
    """A URL that may hold {n}/{n+K}; checked with a sample number (again once expanded)."""
    check_url(TEMPLATE_RE.sub("1", value))
    return value


UrlTemplate = Annotated[str, AfterValidator(_check_url_template)]


def _check_hostport(value: str) -> str:
    m = re.match(r"^\[([0-9a-fA-F:.]+)\]:(\d+)$", value) or re.match(r"^([^:\[\]]+):(\d+)$", value)
    if not m:
        raise ValueError(f"invalid address {value!r}: expected host:port or [v6]:port")
    check_host(m.group(1))
    if not 1 <= int(m.group(2)) <= 65535:
        raise ValueError(f"invalid port in {value!r}: must be 1-65535")
    return value


HostPort = Annotated[str, AfterValidator(_check_hostport)]


def _parse_ratio(value: Any) -> Any:
    """Accept 0.05 or "5%"."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            return float(value.strip()[:-1]) / 100.0
        except ValueError:
            raise ValueError(f"invalid percentage {value!r}") from None
    return value


Ratio = Annotated[float, BeforeValidator(_parse_ratio), Field(ge=0.0, le=1.0)]


def _parse_target(value: Any) -> Any:
    """An availability target: "99.5%" or 0.995 (a bare 99.5 is a percent without its sign)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 1:
        raise ValueError(f"invalid availability {value!r}: write {value:g}% (or {value / 100:g})")
    return _parse_ratio(value)


Availability = Annotated[float, BeforeValidator(_parse_target), Field(ge=0.0, le=1.0)]


class Defaults(Strict):
    """Defaults for every target, overridable per check."""

    interval: Interval = 30.0
    timeout: PositiveSeconds = 5.0
    down_after: int = Field(default=2, ge=1, le=100)
    up_after: int = Field(default=2, ge=1, le=100)

    @model_validator(mode="after")
    def _timeout_below_interval(self) -> Defaults:
        if self.timeout >= self.interval:
            raise ValueError(
                f"timeout ({self.timeout:g}s) must be less than interval ({self.interval:g}s)"
            )
        return self


class Team(Strict):
    id: Id
    name: Name
    channels: list[Channel] = []  # the notifier's channel models (monitor.notify.channels)

    @model_validator(mode="after")
    def _distinct_channel_names(self) -> Team:
        channel_names(self.channels)  # raises ValueError naming the clash
        return self


class CheckSpec(Strict):
    """One check of an entity: the long form. Short forms: "icmp", "tcp:3389", a URL."""

    probe: ProbeKind
    name: Id | None = None  # target suffix; defaults to the probe kind (tcp: tcp-PORT)
    address: str | None = None  # overrides the entity's address
    port: int | None = Field(default=None, ge=1, le=65535)
    url: UrlTemplate | None = None  # counter devices may use {n} / {n+K}
    interval: Interval | None = None
    timeout: PositiveSeconds | None = None
    settings: dict[str, Any] = {}  # validated against the probe kind's settings


def _parse_check(value: Any) -> Any:
    if isinstance(value, str):
        v = value.strip()
        if v in ("icmp", "ping"):
            return {"probe": "icmp"}
        m = re.match(r"^tcp:(\d+)$", v)
        if m:
            return {"probe": "tcp", "port": int(m.group(1))}
        if v.startswith(("http://", "https://")):
            return {"probe": "http", "url": v}
        raise ValueError(
            f"invalid check {value!r}: expected icmp, tcp:PORT, an http(s):// URL, or a mapping"
        )
    return value


Check = Annotated[CheckSpec, BeforeValidator(_parse_check)]


class Anchor(Strict):
    """Something on the internet a link is probed against (ICMP by default)."""

    name: Id | None = None
    address: str  # host/IP for icmp and dns (the resolver), URL for http
    probe: ProbeKind = "icmp"
    port: int | None = Field(default=None, ge=1, le=65535)
    interval: Interval | None = None
    timeout: PositiveSeconds | None = None
    settings: dict[str, Any] = {}


def _parse_anchor(value: Any) -> Any:
    if isinstance(value, str):
        if value.startswith(("http://", "https://")):
            return {"address": value, "probe": "http"}
        return {"address": value}
    return value


class Degraded(Strict):
    """A link is degraded above these (loss ratio or "5%", median RTT)."""

    loss: Ratio = 0.05
    latency: PositiveSeconds = 0.15


class Link(Strict):
    id: Id
    name: Name
    provider: Name = ""
    team: Id | None = None  # default: the site's network team (Kominfo)
    kind: Literal["isp", "dedicated", "vpn"] = "isp"
    source: IpAddress | None = None  # source address to probe through this uplink
    anchors: list[Annotated[Anchor, BeforeValidator(_parse_anchor)]] = Field(min_length=1)
    degraded: Degraded = Degraded()
    bandwidth_mbps: float | None = Field(default=None, gt=0, le=1_000_000)
    sla: Availability | None = None  # contracted availability, "99.5%": the report compares it


class InfraDevice(Strict):
    id: Id
    name: Name
    kind: Literal["router", "firewall", "core_switch", "switch", "access_point", "server"]
    address: Host
    team: Id | None = None  # default: the site's network team
    parent: Id | None = None  # the infra device it hangs off (e.g. core switch)
    location: Name = ""
    checks: list[Check] = [CheckSpec(probe="icmp")]


class Application(Strict):
    id: Id
    name: Name
    url: Url | None = None
    address: HostPort | None = None  # tcp host:port for non-HTTP applications
    links: list[Id] = []  # reached through these links (all down -> unreachable)
    local: bool = False  # served inside the building: depends on `switch`, not links
    switch: Id | None = None
    critical: bool = True  # counters cannot serve without it
    interval: Interval | None = None
    timeout: PositiveSeconds | None = None
    latency_budget: PositiveSeconds | None = None
    expect_status: list[Annotated[int, Field(ge=100, le=599)]] = []
    body_match: list[str] = []
    cert_warning_days: int = Field(default=14, ge=0, le=MAX_CERT_WARNING_DAYS)
    settings: dict[str, Any] = {}  # more probe settings (http or tcp)
    health_check_confirmed: bool = False  # has the agency confirmed this URL?

    @model_validator(mode="after")
    def _one_address(self) -> Application:
        if (self.url is None) == (self.address is None):
            raise ValueError("give exactly one of 'url' (HTTP) or 'address' (TCP host:port)")
        for pattern in self.body_match:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
        return self


class Agency(Strict):
    id: Id
    name: Name
    short_name: Name = ""
    team: Id
    target: Availability | None = None  # availability target, "99%": the report compares it
    applications: list[Application] = []


class Device(Strict):
    id: Id  # unique within the counter: pc, printer, antrian...
    kind: Literal[
        "pc",
        "printer",
        "queue_display",
        "card_reader",
        "camera",
        "scanner",
        "signature_pad",
        "edc",
        "other",
    ] = "pc"
    name: Name = ""
    address: str  # may use {n} / {n+K} for the counter number in a range
    checks: list[Check] = [CheckSpec(probe="icmp")]


class CounterSpec(Strict):
    """One counter (number) or a range of identical counters (numbers: "1-4")."""

    number: int | None = Field(default=None, ge=1, le=999)
    numbers: str | None = None  # "1-4": a range sharing agency/switch/device templates
    name: Name = ""
    agency: Id
    switch: Id | None = None
    devices: list[Device] = []

    @model_validator(mode="after")
    def _one_number(self) -> CounterSpec:
        if (self.number is None) == (self.numbers is None):
            raise ValueError("give exactly one of 'number' or 'numbers' (a range like 1-4)")
        if self.numbers is not None:
            m = re.match(r"^\s*(\d+)\s*-\s*(\d+)\s*$", self.numbers)
            if not m or not 1 <= int(m.group(1)) <= int(m.group(2)) <= 999:
                raise ValueError(f"invalid range {self.numbers!r}: expected FIRST-LAST, e.g. 1-4")
        return self

    def number_list(self) -> list[int]:
        """The counter numbers this entry describes."""
        if self.number is not None:
            return [self.number]
        assert self.numbers is not None
        first, last = (int(x) for x in self.numbers.split("-"))
        return list(range(first, last + 1))


# People write the Indonesian zone names; the tz database wants the region names.
_INDONESIAN_ZONES = {"WIB": "Asia/Jakarta", "WITA": "Asia/Makassar", "WIT": "Asia/Jayapura"}


class Site(Strict):
    id: Id
    name: Name
    timezone: str = "Asia/Makassar"
    address: Name = ""
    # Where the building is, as label values for the central store (external_labels of the
    # site's Prometheus): a province-level region and the regency/city (kabupaten/kota).
    region: Id | None = None
    regency: Id | None = None
    service_hours: ServiceHours = ServiceHours()
    closed_days: ClosedDays = ClosedDays()
    network_team: Id = "kominfo"
    manager_team: Id | None = None
    teams: list[Team] = Field(min_length=1)
    links: list[Link] = []
    infrastructure: list[InfraDevice] = []
    agencies: list[Agency] = []
    counters: list[CounterSpec] = []
    maintenance: list[Maintenance] = []

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            local = _INDONESIAN_ZONES.get(value.strip().upper())
            hint = f"{value.strip().upper()} is {local}" if local else "e.g. Asia/Makassar"
            raise ValueError(f"unknown time zone {value!r} ({hint})") from None
        return value

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        """The site's time zone."""
        return zoneinfo.ZoneInfo(self.timezone)


class WebConfig(Strict):
    """Optional TLS and basic auth for our own endpoints (Prometheus web-config style)."""

    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    basic_auth_users: dict[str, str] = {}  # user -> bcrypt hash


class Inventory(Strict):
    """The whole validated file."""

    defaults: Defaults = Defaults()
    sites: list[Site] = Field(min_length=1)
    public_url: Url | None = None  # where the status page is reachable (links in messages)
    runbook_url: Url | None = None

    def site(self, site_id: str) -> Site:
        """Return the site with this id (KeyError if absent)."""
        for s in self.sites:
            if s.id == site_id:
                return s
        raise KeyError(site_id)
