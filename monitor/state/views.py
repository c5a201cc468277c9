"""Statuses and the read-only views of the state that pages, the API and the exporter read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

Status = Literal["up", "down", "unreachable", "maintenance", "unknown"]
LinkState = Literal["up", "degraded", "down", "unknown"]

STATUSES: Final[tuple[Status, ...]] = ("up", "down", "unreachable", "maintenance", "unknown")
LINK_STATES: Final[tuple[LinkState, ...]] = ("up", "degraded", "down")
FAILED: Final[frozenset[str]] = frozenset({"down", "unreachable"})


@dataclass(frozen=True, slots=True)
class TargetView:
    """A target's current state, for pages and the JSON API (no address: may hold secrets)."""

    id: str
    probe: str
    entity: str
    status: Status
    success: bool | None
    reason: str
    duration_seconds: float | None
    last_run: float | None
    runs: int
    successes: int
    failures: Mapping[str, int]
    labels: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class EntityView:
    """An entity's status and the team that owns its fault."""

    id: str
    kind: str
    name: str
    site: str
    team: str
    status: Status
    owner: str  # "" unless down/unreachable
    since: float  # wall time of the latest status change
    healthy: bool | None  # probe truth, ignoring dependencies and maintenance
    depends_on: tuple[str, ...]
    targets: tuple[str, ...]
    labels: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class LinkView:
    """An uplink's state and quality."""

    id: str
    name: str
    site: str
    team: str
    state: LinkState
    status: Status
    owner: str
    loss_ratio: float | None
    rtt_median_seconds: float | None


@dataclass(frozen=True, slots=True)
class CounterView:
    """A service counter and whether it can serve."""

    site: str
    number: int
    name: str
    agency: str
    team: str
    can_serve: bool | None
    blocking: tuple[str, ...]  # entity ids not serving (failing or unknown)
    status: Status  # up/down/unreachable/maintenance/unknown, as for entities
    owner: str  # team that must act while it cannot serve
    devices: tuple[str, ...]
    applications: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SiteView:
    """A site's internet roll-up."""

    site: str
    internet_up: bool | None
    links: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A consistent read-only copy of the state at one moment (plain data)."""

    taken_at: float
    sites: tuple[SiteView, ...]
    links: tuple[LinkView, ...]
    counters: tuple[CounterView, ...]
    entities: Mapping[str, EntityView]  # plan order
    faults: tuple[EntityView, ...]  # down/unreachable entities, oldest first, parents first
    targets: Mapping[str, TargetView]  # plan order; empty when not requested
