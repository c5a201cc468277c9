"""Runtime state, the store and its roll-ups: latest results, counters, statuses, owners.

Pure logic, no I/O: every method takes the wall time it should use (or reads the injected
clock), so tests drive it with a fake clock and hand-made results.

Rules (documented choices):

* **Hysteresis is per target.** A target's health (ok / failing) changes only after
  ``down_after`` consecutive failures or ``up_after`` consecutive successes. The very first
  result is adopted at once (unknown -> ok/failing), so a restart in the middle of an outage
  shows it immediately.
* **Entity raw health** combines the debounced health of its targets: a link is ok when *any*
  anchor is ok; any other entity is ok when *all* its targets are ok. Unknown while a target
  has no result yet (and none is failing). A link is *degraded* (still up) when the mean
  ``loss_ratio`` of its anchors exceeds ``loss_degraded`` or the median of their
  ``rtt_median_seconds`` exceeds ``latency_degraded``; degraded uses the same hysteresis
  counts, fed by anchor results.
* **Entity status**: ``maintenance`` inside a window (``in_maintenance(entity_id, wall)``);
  ``unknown`` before results; ``up`` when healthy; when failing, ``unreachable`` if *every*
  parent in ``depends_on`` is failed (down, unreachable, or in maintenance while failing)
  and at least one is down/unreachable; ``maintenance`` if every parent is failing inside a
  maintenance window; else ``down``.
* **Fault owner**: ``down`` -> the entity's own team; ``unreachable`` -> the fault owner of
  its first failed parent (recursively, so a device behind an access switch behind a failed
  core switch points at the core switch's team).
* **Target status** is per target: ``maintenance`` when its entity is; else ``unknown`` /
  ``up`` by its own health; when failing, ``unreachable`` if its entity is unreachable,
  else ``down``. Maintenance windows are asked for entity ids only.
* **Counter can serve**: every device and critical application is *serving*: status ``up``,
  or ``maintenance`` while its probes still succeed (a window does not stop a working PC).
  Unknown (None) while something has no result yet and nothing is failing.
* **Site internet** is up when any link of the site is up or degraded (probe truth,
  maintenance windows ignored); unknown while no link has a result.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping

from monitor.plan import Counter, Entity, Plan, Target
from monitor.state.history import History, HistoryEntry
from monitor.state.views import (
    FAILED,
    CounterView,
    EntityView,
    LinkState,
    LinkView,
    SiteView,
    Snapshot,
    Status,
    TargetView,
)
from probes.base import ProbeResult

InMaintenance = Callable[[str, float], bool]
"""``in_maintenance(entity_id, wall_time) -> bool``, provided from the inventory."""


def never_in_maintenance(entity_id: str, wall: float) -> bool:
    """Return False: the default when no maintenance windows are configured."""
    return False


class TargetState:
    """Mutable per-target runtime data."""

    __slots__ = (
        "failures",
        "generation",
        "health",
        "history",
        "result",
        "runs",
        "streak",
        "successes",
        "target",
        "wall",
    )

    def __init__(self, target: Target, history_size: int) -> None:
        self.target = target
        self.result: ProbeResult | None = None
        self.wall = 0.0  # wall time of the latest result
        self.runs = 0
        self.successes = 0
        self.failures: dict[str, int] = {}
        self.history = History(history_size)
        self.health: bool | None = None  # debounced: None before the first result
        self.streak = 0  # consecutive results disagreeing with `health`
        self.generation = 0  # bumped on every result (render caches key on it)

    def observe(self, success: bool, down_after: int, up_after: int) -> bool:
        """Feed one result into the hysteresis; return True if the health changed."""
        if self.health is None:
            self.health = success
            self.streak = 0
            return True
        if success == self.health:
            self.streak = 0
            return False
        self.streak += 1
        if self.streak >= (up_after if success else down_after):
            self.health = success
            self.streak = 0
            return True
        return False


class EntityState:
    """Mutable per-entity runtime data."""

    __slots__ = (
        "children",
        "degraded",
        "degraded_streak",
        "entity",
        "loss_ratio",
        "owner",
        "raw",
        "rtt_median",
        "since",
        "status",
        "targets",
    )

    def __init__(self, entity: Entity, since: float) -> None:
        self.entity = entity
        self.targets: list[TargetState] = []
        self.children: list[EntityState] = []
        self.raw: bool | None = None
        self.status: Status = "unknown"
        self.owner = ""  # team that must act while down/unreachable
        self.since = since
        self.degraded = False  # links: debounced
        self.degraded_streak = 0
        self.loss_ratio: float | None = None  # links: aggregate over anchors
        self.rtt_median: float | None = None

    @property
    def link_state(self) -> LinkState:
        """Return up/degraded/down for a link from probe truth (unknown before results)."""
        if self.raw is None:
            return "unknown"
        if not self.raw:
            return "down"
        return "degraded" if self.degraded else "up"

    def failed_for_children(self) -> bool:
        """Return True if dependants behind this entity should count it as failed."""
        return self.status in FAILED or (self.status == "maintenance" and self.raw is False)


def _topological(entities: Mapping[str, Entity]) -> list[str]:
    """Return entity ids parents-first; raise ValueError on a dependency cycle."""
    indegree = {eid: 0 for eid in entities}
    children: dict[str, list[str]] = {eid: [] for eid in entities}
    for eid, e in entities.items():
        for p in dict.fromkeys(e.depends_on):
            if p in entities and p != eid:
                indegree[eid] += 1
                children[p].append(eid)
            elif p == eid:
                raise ValueError(f"entity {eid} depends on itself")
    queue = deque(eid for eid, n in indegree.items() if n == 0)
    order: list[str] = []
    while queue:
        eid = queue.popleft()
        order.append(eid)
        for c in children[eid]:
            indegree[c] -= 1
            if indegree[c] == 0:
                queue.append(c)
    if len(order) != len(entities):
        cycle = sorted(eid for eid, n in indegree.items() if n > 0)
        raise ValueError(f"dependency cycle among entities: {', '.join(cycle[:10])}")
    return order


class State:
    """Per-target and per-entity runtime state for one plan; see the module docstring."""

    def __init__(
        self,
        *,
        down_after: int = 2,
        up_after: int = 2,
        history_size: int = 60,
        in_maintenance: InMaintenance | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if down_after < 1 or up_after < 1:
            raise ValueError("down_after and up_after must be at least 1")
        self.down_after = down_after
        self.up_after = up_after
        self.history_size = history_size
        self._in_maintenance: InMaintenance = in_maintenance or never_in_maintenance
        self._wall = wall
        self._plan: Plan | None = None
        self._targets: dict[str, TargetState] = {}
        self._entities: dict[str, EntityState] = {}
        self._order: list[EntityState] = []  # parents first
        self._site_links: dict[str, list[EntityState]] = {}

    # -- plan ------------------------------------------------------------------------------

    @property
    def plan(self) -> Plan | None:
        """Return the plan in effect (None before the first apply_plan)."""
        return self._plan

    def set_maintenance(self, in_maintenance: InMaintenance | None) -> None:
        """Replace the maintenance-window predicate (None: never in maintenance)."""
        self._in_maintenance = in_maintenance or never_in_maintenance

    @property
    def time_dependent(self) -> bool:
        """Return True if statuses can change with time alone (maintenance windows).

        Without windows, ``record`` keeps every status current by itself and a periodic
        ``refresh`` is not needed.
        """
        return self._in_maintenance is not never_in_maintenance

    @staticmethod
    def check(plan: Plan) -> list[str]:
        """Validate a plan for the runtime; return the entity ids parents-first.

        Raises ValueError naming the problem (unknown entity, duplicate target, cycle).
        """
        seen: set[str] = set()
        for t in plan.targets:
            if t.id in seen:
                raise ValueError(f"duplicate target id {t.id}")
            seen.add(t.id)
            if t.entity not in plan.entities:
                raise ValueError(f"target {t.id} refers to unknown entity {t.entity}")
        return _topological(plan.entities)

    def apply_plan(self, plan: Plan, wall: float | None = None) -> None:
        """Switch to a new plan, keeping the state of targets and entities that remain.

        A target keeps counters, history and health when its id remains with the same probe
        kind and address (other changes, such as interval or labels, keep them too); an
        entity keeps its status and ``since``. Removed ones are dropped. Raises ValueError
        (and changes nothing) when the plan is inconsistent.
        """
        self.prepare(plan, wall)()

    def prepare(self, plan: Plan, wall: float | None = None) -> Callable[[], None]:
        """Build the state of a new plan without touching the current one; return its commit.

        Everything that can fail happens here (ValueError when the plan is inconsistent);
        the returned function only swaps the prepared state in (see ``apply_plan``)."""
        order_ids = self.check(plan)
        now = self._wall() if wall is None else wall
        targets: dict[str, TargetState] = {}
        kept_targets: list[tuple[TargetState, Target]] = []
        for t in plan.targets:
            old = self._targets.get(t.id)
            if old is not None and old.target.probe == t.probe and old.target.address == t.address:
                kept_targets.append((old, t))
                targets[t.id] = old
            else:
                targets[t.id] = TargetState(t, self.history_size)
        entities: dict[str, EntityState] = {}
        kept_entities: list[tuple[EntityState, Entity]] = []
        for eid in order_ids:
            e = plan.entities[eid]
            old_e = self._entities.get(eid)
            if old_e is not None:
                kept_entities.append((old_e, e))
                entities[eid] = old_e
            else:
                entities[eid] = EntityState(e, now)

        def commit() -> None:
            for ts, t in kept_targets:
                ts.target = t
            for es, e in kept_entities:
                es.entity = e
                es.targets = []
                es.children = []
            self._commit(plan, targets, entities, order_ids, now)

        return commit

    def _commit(
        self,
        plan: Plan,
        targets: dict[str, TargetState],
        entities: dict[str, EntityState],
        order_ids: list[str],
        now: float,
    ) -> None:
        for ts in targets.values():
            entities[ts.target.entity].targets.append(ts)
        site_links: dict[str, list[EntityState]] = {}
        for es in entities.values():
            for p in dict.fromkeys(es.entity.depends_on):
                if p in entities:
                    entities[p].children.append(es)
            if es.entity.kind == "link":
                site_links.setdefault(es.entity.site, []).append(es)
        self._plan = plan
        self._targets = targets
        self._entities = entities
        self._order = [entities[eid] for eid in order_ids]
        self._site_links = site_links
        for es in self._order:
            if es.entity.kind == "link":
                self._update_link_quality(es, feed_hysteresis=False)
        self.refresh(now)

    # -- results ---------------------------------------------------------------------------

    def record(self, target_id: str, result: ProbeResult, wall: float | None = None) -> bool:
        """Record one probe result; return False if the target is not in the plan."""
        ts = self._targets.get(target_id)
        if ts is None:
            return False
        now = self._wall() if wall is None else wall
        ts.result = result
        ts.wall = now
        ts.runs += 1
        ts.generation += 1
        if result.success:
            ts.successes += 1
        else:
            reason = result.reason or "unknown"
            ts.failures[reason] = ts.failures.get(reason, 0) + 1
        ts.history.append(now, result.success, result.duration_seconds, result.reason)
        changed = ts.observe(result.success, self.down_after, self.up_after)
        es = self._entities[ts.target.entity]
        if es.entity.kind == "link":
            changed = self._update_link_quality(es, feed_hysteresis=True) or changed
        if changed:
            self._propagate(es, now)
        return True

    def _update_link_quality(self, es: EntityState, *, feed_hysteresis: bool) -> bool:
        """Recompute a link's aggregate loss/RTT and (optionally) step its degraded flag."""
        losses: list[float] = []
        rtts: list[float] = []
        for ts in es.targets:
            r = ts.result
            if r is None:
                continue
            loss = r.values.get("loss_ratio")
            if loss is not None:
                losses.append(loss)
            rtt = r.values.get("rtt_median_seconds")
            if rtt is not None and r.success:
                rtts.append(rtt)
        es.loss_ratio = sum(losses) / len(losses) if losses else None
        es.rtt_median = statistics.median(rtts) if rtts else None
        if not feed_hysteresis:
            return False
        e = es.entity
        bad = (
            e.loss_degraded is not None
            and es.loss_ratio is not None
            and es.loss_ratio > e.loss_degraded
        ) or (
            e.latency_degraded is not None
            and es.rtt_median is not None
            and es.rtt_median > e.latency_degraded
        )
        if bad == es.degraded:
            es.degraded_streak = 0
            return False
        es.degraded_streak += 1
        if es.degraded_streak >= (self.down_after if bad else self.up_after):
            es.degraded = bad
            es.degraded_streak = 0
            return True
        return False

    # -- evaluation ------------------------------------------------------------------------

    def _raw(self, es: EntityState) -> bool | None:
        healths = [ts.health for ts in es.targets]
        if not healths:
            return None
        if es.entity.kind == "link":
            if any(h is True for h in healths):
                return True
            return None if any(h is None for h in healths) else False
        if any(h is False for h in healths):
            return False
        return None if any(h is None for h in healths) else True

    def _evaluate(self, es: EntityState, wall: float) -> bool:
        """Recompute one entity from its targets and parents; return True if it changed."""
        e = es.entity
        raw = self._raw(es)
        owner = ""
        status: Status
        if self._in_maintenance(e.id, wall):
            status = "maintenance"
        elif raw is None:
            status = "unknown"
        elif raw:
            status = "up"
        else:
            parents = [self._entities[p] for p in e.depends_on if p in self._entities]
            if parents and all(p.failed_for_children() for p in parents):
                failing = [p for p in parents if p.status in FAILED]
                if failing:
                    status, owner = "unreachable", failing[0].owner
                else:
                    status = "maintenance"
            else:
                status, owner = "down", e.team
        changed = raw != es.raw or status != es.status or owner != es.owner
        if status != es.status:
            es.since = wall
        es.raw, es.status, es.owner = raw, status, owner
        return changed

    def _propagate(self, start: EntityState, wall: float) -> None:
        """Re-evaluate an entity and, while something changes, its dependants."""
        queue = deque([start])
        budget = 4 * len(self._entities) + 4  # cycles are rejected; this only bounds work
        while queue and budget > 0:
            budget -= 1
            es = queue.popleft()
            if self._evaluate(es, wall):
                queue.extend(es.children)

    def refresh(self, wall: float | None = None) -> None:
        """Re-evaluate every entity parents-first (maintenance windows move with time)."""
        for _ in self.refresh_steps(wall):
            pass

    def refresh_steps(self, wall: float | None = None, every: int = 256) -> Iterator[None]:
        """``refresh`` in steps: yields after each ``every`` entities (a caller on the event
        loop lets other work run there; results recorded meanwhile re-evaluate their own
        entities, and the steps still to come re-evaluate theirs with the same time)."""
        now = self._wall() if wall is None else wall
        for n, es in enumerate(list(self._order), 1):
            self._evaluate(es, now)
            if n % every == 0:
                yield

    # -- reads -----------------------------------------------------------------------------

    def target_state(self, target_id: str) -> TargetState:
        """Return a target's mutable state (KeyError if absent); read-only for callers."""
        return self._targets[target_id]

    def entity_state(self, entity_id: str) -> EntityState:
        """Return an entity's mutable state (KeyError if absent); read-only for callers."""
        return self._entities[entity_id]

    def target_states(self) -> Iterator[TargetState]:
        """Iterate over target states in plan order."""
        return iter(self._targets.values())

    def entity_states(self) -> Iterator[EntityState]:
        """Iterate over entity states in plan order."""
        return iter(self._entities.values())

    def target_status(self, ts: TargetState) -> Status:
        """Return a target's status (see the module docstring)."""
        es = self._entities[ts.target.entity].status
        if es == "maintenance":
            return "maintenance"
        if ts.health is None:
            return "unknown"
        if ts.health:
            return "up"
        return "unreachable" if es == "unreachable" else "down"

    def history(self, target_id: str) -> list[HistoryEntry]:
        """Return a target's recent results, oldest first (KeyError if absent)."""
        return self._targets[target_id].history.entries()

    def _serving(self, entity_id: str) -> bool | None:
        es = self._entities.get(entity_id)
        if es is None:
            return None
        if es.status == "up":
            return True
        if es.status in FAILED:
            return False
        if es.status == "maintenance":
            return es.raw
        return None

    def counter_can_serve(self, counter: Counter) -> tuple[bool | None, tuple[str, ...]]:
        """Return (can serve, ids of the entities that stop or leave it unknown)."""
        needed = list(counter.devices)
        for a in counter.applications:
            app = self._entities.get(a)
            if app is None or app.entity.critical:
                needed.append(a)
        failing: list[str] = []
        unknown: list[str] = []
        for eid in needed:
            s = self._serving(eid)
            if s is False:
                failing.append(eid)
            elif s is None:
                unknown.append(eid)
        if failing:
            return False, tuple(failing)
        if unknown:
            return None, tuple(unknown)
        return True, ()

    def counter_status(self, counter: Counter) -> tuple[Status, str]:
        """Return (status, team that must act) of a counter, like an entity's status.

        ``down`` when its own agency's devices or applications stop it (owner: the agency's
        team); ``unreachable`` when every blocking entity is unreachable (owner: the failed
        parent's owner, e.g. Kominfo for a dead switch or no uplink); ``maintenance`` when
        what blocks it is in a planned window.
        """
        can, blocking = self.counter_can_serve(counter)
        if can is True:
            return "up", ""
        states = [self._entities[b] for b in blocking if b in self._entities]
        if can is None:
            if states and all(es.status == "maintenance" for es in states):
                return "maintenance", ""
            return "unknown", ""
        if any(es.status == "down" for es in states):
            return "down", counter.team
        unreachable = [es for es in states if es.status == "unreachable"]
        if unreachable:
            return "unreachable", unreachable[0].owner or counter.team
        return "maintenance", ""

    def site_internet_up(self, site: str) -> bool | None:
        """Return True if any internet link of the site is up or degraded (None: no link
        known). A VPN to one agency's data centre is not the internet: only links labelled
        ``via="internet"`` (kind isp or dedicated) count, when the site has any."""
        links = self._site_links.get(site, [])
        internet = [es for es in links if es.entity.labels.get("via") == "internet"]
        links = internet or links
        raws = [es.raw for es in links]
        if any(r is True for r in raws):
            return True
        if raws and all(r is False for r in raws):
            return False
        return None

    def sites(self) -> list[str]:
        """Return the sites of the plan's entities, in first-seen order."""
        return list(dict.fromkeys(es.entity.site for es in self._entities.values()))

    def _entity_view(self, es: EntityState) -> EntityView:
        e = es.entity
        return EntityView(
            id=e.id,
            kind=e.kind,
            name=e.name,
            site=e.site,
            team=e.team,
            status=es.status,
            owner=es.owner,
            since=es.since,
            healthy=es.raw,
            depends_on=e.depends_on,
            targets=tuple(ts.target.id for ts in es.targets),
            labels=dict(e.labels),
        )

    def _target_view(self, ts: TargetState) -> TargetView:
        r = ts.result
        t = ts.target
        return TargetView(
            id=t.id,
            probe=t.probe,
            entity=t.entity,
            status=self.target_status(ts),
            success=None if r is None else r.success,
            reason="" if r is None else r.reason,
            duration_seconds=None if r is None else r.duration_seconds,
            last_run=ts.wall if ts.runs else None,
            runs=ts.runs,
            successes=ts.successes,
            failures=dict(ts.failures),
            labels=dict(t.labels),
        )

    def snapshot(self, wall: float | None = None, *, include_targets: bool = True) -> Snapshot:
        """Refresh and return plain read-only views of everything (for pages and the API)."""
        now = self._wall() if wall is None else wall
        self.refresh(now)
        entities = {eid: self._entity_view(es) for eid, es in self._entities.items()}
        links = tuple(
            LinkView(
                id=es.entity.id,
                name=es.entity.name,
                site=es.entity.site,
                team=es.entity.team,
                state=es.link_state,
                status=es.status,
                owner=es.owner,
                loss_ratio=es.loss_ratio,
                rtt_median_seconds=es.rtt_median,
            )
            for es in self._entities.values()
            if es.entity.kind == "link"
        )
        counters = []
        for c in self._plan.counters if self._plan else ():
            can, blocking = self.counter_can_serve(c)
            status, owner = self.counter_status(c)
            counters.append(
                CounterView(
                    status=status,
                    owner=owner,
                    site=c.site,
                    number=c.number,
                    name=c.name,
                    agency=c.agency,
                    team=c.team,
                    can_serve=can,
                    blocking=blocking,
                    devices=c.devices,
                    applications=c.applications,
                )
            )
        sites = tuple(
            SiteView(
                site=s,
                internet_up=self.site_internet_up(s),
                links=tuple(es.entity.id for es in self._site_links.get(s, [])),
            )
            for s in self.sites()
        )
        # Oldest first; at equal times parents (the likely cause) before dependants.
        rank = {es.entity.id: i for i, es in enumerate(self._order)}
        faults = tuple(
            sorted(
                (v for v in entities.values() if v.status in FAILED),
                key=lambda v: (v.since, rank[v.id]),
            )
        )
        targets = (
            {tid: self._target_view(ts) for tid, ts in self._targets.items()}
            if include_targets
            else {}
        )
        return Snapshot(
            taken_at=now,
            sites=sites,
            links=links,
            counters=tuple(counters),
            entities=entities,
            faults=faults,
            targets=targets,
        )
