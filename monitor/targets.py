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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from monitor.inventory import Inventory

ProbeKind = Literal["icmp", "tcp", "http", "dns"]
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
)


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
class Plan:
    """Everything the runtime needs, expanded from one inventory."""

    targets: tuple[Target, ...]
    entities: Mapping[str, Entity]
    counters: tuple[Counter, ...]
    inventory: Inventory  # the validated model (sites, teams, service hours, maintenance)

    def target(self, target_id: str) -> Target:
        """Return the target with this id (KeyError if absent)."""
        for t in self.targets:
            if t.id == target_id:
                return t
        raise KeyError(target_id)
