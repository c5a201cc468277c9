"""The expanded inventory: entities, targets and counters that the runtime works on.

The inventory (``monitor.inventory``) is what people write; this module is what it expands
into. Everything downstream (scheduler, state, exporter, web, notify, report) reads only
these types, never the YAML model.

Vocabulary:

* an **entity** is a thing that has a status and an owner: a link, an infrastructure
  device (switch, router, access point), a counter device (PC, printer, queue display) or
  an application. Its id is ``"<site>/<kind>/<name>"``, e.g. ``paser/link/isp-telkom``,
  ``paser/infra/sw-lantai1``, ``paser/device/gerai-07-pc``, ``paser/application/bpjs-vclaim``.
* a **target** is one probed thing; an entity has one or more targets (a link probes
  several anchors, a PC may be checked by icmp and tcp:3389). Its id is
  ``"<entity id>/<check>"``, e.g. ``paser/device/gerai-07-pc/icmp``.
* ``Entity.depends_on`` lists parent entity ids; the entity is ``unreachable`` when *every*
  listed parent is failed (down or unreachable). A counter device lists its switch (one
  parent); an application lists the links it is reached through (all must fail).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from monitor.hours import ClosedDays, Maintenance, ServiceHours
from monitor.notify.channels import Channel
from probes.registry import ProbeKind

EntityKind = Literal["link", "infra", "device", "application"]

# Every target series carries exactly these labels (empty string where one does not apply;
# Prometheus treats an empty label as absent).
TARGET_LABELS: tuple[str, ...] = (
    "site",
    "team",
    "kind",
    "entity",
    "agency",
    "counter",
    "device",
    "link",
    # how the entity is reached: "internet" (the site's ISP/dedicated uplinks: a site offline
    # explains its failure), "local" (inside the building), or the ids of the other links
    # (a VPN) it is reached through; "" for LAN devices
    "via",
)


def counter_label(number: int) -> str:
    """Counter numbers as labels sort well: 1 -> "01"."""
    return f"{number:02d}"


@dataclass(frozen=True, slots=True)
class Target:
    """One probed thing: what to probe, how often, and how to label its results."""

    id: str
    probe: ProbeKind
    address: str  # host or IP (icmp, dns resolver), host:port (tcp), URL (http)
    entity: str  # id of the Entity this target checks
    interval: float  # seconds between runs
    timeout: float  # seconds; the scheduler bounds every run with it (< interval)
    settings: Any  # the probe kind's settings model (probes.settings.*Settings)
    labels: Mapping[str, str]  # keys: TARGET_LABELS (all present, "" when not applicable)


@dataclass(frozen=True, slots=True)
class Entity:
    """A thing with a status and an owner team."""

    id: str
    kind: EntityKind
    name: str  # human name from the inventory (may contain anything: escape it)
    site: str
    team: str  # owning team id
    labels: Mapping[str, str]  # same keys as Target.labels
    depends_on: tuple[str, ...] = ()  # parent entity ids (any-of: unreachable when all fail)
    critical: bool = True  # applications: does a counter need it to serve?
    # link only: degraded thresholds
    loss_degraded: float | None = None  # ratio 0..1
    latency_degraded: float | None = None  # seconds (median RTT)


@dataclass(frozen=True, slots=True)
class Counter:
    """A service counter (gerai): it can serve when its devices are up and its agency's
    critical applications are reachable."""

    site: str
    number: int
    name: str
    agency: str
    team: str
    devices: tuple[str, ...]  # device entity ids
    applications: tuple[str, ...]  # critical application entity ids of its agency


@dataclass(frozen=True, slots=True)
class TeamInfo:
    """A team: its name and where its messages go."""

    id: str
    name: str
    channels: tuple[Channel, ...] = ()


@dataclass(frozen=True, slots=True)
class AgencyInfo:
    """An agency's names and owning team."""

    id: str
    name: str
    team: str
    short_name: str = ""
    target: float | None = None  # availability target (0..1) from the inventory


@dataclass(frozen=True, slots=True)
class LinkInfo:
    """An uplink's name and provider."""

    id: str
    name: str
    provider: str = ""
    sla: float | None = None  # contracted availability (0..1) from the inventory
    kind: str = "isp"  # isp | dedicated | vpn: a VPN is not the internet


@dataclass(frozen=True, slots=True)
class SiteInfo:
    """The directory of one site: names, time zone, service hours, maintenance, teams."""

    id: str
    name: str
    timezone: str = "Asia/Makassar"
    service_hours: ServiceHours = field(default_factory=ServiceHours)
    closed_days: ClosedDays = field(default_factory=ClosedDays)
    maintenance: tuple[Maintenance, ...] = ()
    network_team: str = "kominfo"
    manager_team: str | None = None
    teams: tuple[TeamInfo, ...] = ()
    agencies: tuple[AgencyInfo, ...] = ()
    links: tuple[LinkInfo, ...] = ()
    region: str = ""  # province-level region and regency/city, "" when not in the inventory
    regency: str = ""

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        """The site's time zone."""
        return zoneinfo.ZoneInfo(self.timezone)


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything the runtime needs, expanded from one inventory."""

    targets: tuple[Target, ...]
    entities: Mapping[str, Entity]
    counters: tuple[Counter, ...]
    sites: tuple[SiteInfo, ...] = ()
    down_after: int = 2  # consecutive failures before a target counts as down
    up_after: int = 2  # consecutive successes before it counts as up again
    runbook_url: str = ""  # the inventory's runbook_url: where messages link for each alert

    def site(self, site_id: str) -> SiteInfo:
        """Return the site with this id (KeyError if absent)."""
        for s in self.sites:
            if s.id == site_id:
                return s
        raise KeyError(site_id)

    def target(self, target_id: str) -> Target:
        """Return the target with this id (KeyError if absent)."""
        for t in self.targets:
            if t.id == target_id:
                return t
        raise KeyError(target_id)
