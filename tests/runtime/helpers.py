"""Hand-built plans, fake probes and results for the runtime tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any, cast

from monitor.plan import TARGET_LABELS, Counter, Entity, Plan, Target
from probes.base import ProbeContext, ProbeResult

SITE = "paser"


def labels(**kw: str) -> dict[str, str]:
    """Return a full TARGET_LABELS dict ("" where not given)."""
    out = {k: "" for k in TARGET_LABELS}
    out.update(kw)
    assert set(out) == set(TARGET_LABELS)
    return out


def entity(
    kind: str,
    name: str,
    team: str,
    *,
    depends_on: Iterable[str] = (),
    agency: str = "",
    counter: str = "",
    critical: bool = True,
    loss_degraded: float | None = None,
    latency_degraded: float | None = None,
    display: str | None = None,
) -> Entity:
    """Return an entity of the test site with consistent labels."""
    eid = f"{SITE}/{kind}/{name}"
    return Entity(
        id=eid,
        kind=cast(Any, kind),
        name=display or name,
        site=SITE,
        team=team,
        labels=labels(
            site=SITE,
            team=team,
            kind=kind,
            entity=eid,
            agency=agency,
            counter=counter,
            device=name if kind == "device" else "",
            link=name if kind == "link" else "",
        ),
        depends_on=tuple(depends_on),
        critical=critical,
        loss_degraded=loss_degraded,
        latency_degraded=latency_degraded,
    )


def target(
    e: Entity,
    check: str,
    probe: str = "icmp",
    *,
    interval: float = 15.0,
    timeout: float = 5.0,
    address: str = "127.0.0.1",
    settings: Any = None,
) -> Target:
    """Return a target checking entity e."""
    return Target(
        id=f"{e.id}/{check}",
        probe=cast(Any, probe),
        address=address,
        entity=e.id,
        interval=interval,
        timeout=timeout,
        settings=settings,
        labels=dict(e.labels),
    )


def plan(
    entities: Iterable[Entity], targets: Iterable[Target], counters: Iterable[Counter] = ()
) -> Plan:
    """Return a Plan without a site directory."""
    return Plan(
        targets=tuple(targets),
        entities={e.id: e for e in entities},
        counters=tuple(counters),
    )


class Mpp:
    """A small MPP: two uplinks, a core and an access switch, one counter, one application.

    Teams: kominfo owns links and the core switch, dpmptsp the access switch, bpjs the
    counter devices and the application (reached through both links).
    """

    def __init__(self, *, interval: float = 15.0, timeout: float = 5.0) -> None:
        self.isp_a = entity("link", "isp-a", "kominfo", loss_degraded=0.1, latency_degraded=0.1)
        self.isp_b = entity("link", "isp-b", "kominfo")
        self.core = entity("infra", "sw-core", "kominfo")
        self.access = entity("infra", "sw-lantai1", "dpmptsp", depends_on=[self.core.id])
        self.pc = entity(
            "device",
            "gerai-01-pc",
            "bpjs",
            depends_on=[self.access.id],
            agency="bpjs",
            counter="01",
        )
        self.printer = entity(
            "device",
            "gerai-01-printer",
            "bpjs",
            depends_on=[self.access.id],
            agency="bpjs",
            counter="01",
        )
        self.app = entity(
            "application",
            "bpjs-vclaim",
            "bpjs",
            depends_on=[self.isp_a.id, self.isp_b.id],
            agency="bpjs",
        )
        self.entities = [
            self.isp_a,
            self.isp_b,
            self.core,
            self.access,
            self.pc,
            self.printer,
            self.app,
        ]
        kw = {"interval": interval, "timeout": timeout}
        self.t_isp_a_gw = target(self.isp_a, "gw", **kw)
        self.t_isp_a_dns = target(self.isp_a, "dns-anchor", address="127.0.0.2", **kw)
        self.t_isp_b = target(self.isp_b, "gw", address="127.0.0.3", **kw)
        self.t_core = target(self.core, "icmp", **kw)
        self.t_access = target(self.access, "icmp", **kw)
        self.t_pc = target(self.pc, "icmp", **kw)
        self.t_pc_rdp = target(self.pc, "rdp", "tcp", address="127.0.0.1:3389", **kw)
        self.t_printer = target(self.printer, "icmp", **kw)
        self.t_app = target(self.app, "http", "http", address="http://127.0.0.1:8080/", **kw)
        self.t_app_dns = target(self.app, "dns", "dns", **kw)
        self.targets = [
            self.t_isp_a_gw,
            self.t_isp_a_dns,
            self.t_isp_b,
            self.t_core,
            self.t_access,
            self.t_pc,
            self.t_pc_rdp,
            self.t_printer,
            self.t_app,
            self.t_app_dns,
        ]
        self.counter = Counter(
            site=SITE,
            number=1,
            name="Gerai 01",
            agency="bpjs",
            team="bpjs",
            devices=(self.pc.id, self.printer.id),
            applications=(self.app.id,),
        )

    def plan(self) -> Plan:
        """Return the plan of the whole MPP."""
        return plan(self.entities, self.targets, [self.counter])

    def entity_targets(self, e: Entity) -> list[Target]:
        """Return the targets of one entity."""
        return [t for t in self.targets if t.entity == e.id]


def ok(duration: float = 0.01, **values: float) -> ProbeResult:
    """Return a successful result."""
    return ProbeResult(success=True, duration_seconds=duration, values=dict(values))


def fail(reason: str = "timeout", duration: float = 1.0, **values: float) -> ProbeResult:
    """Return a failed result."""
    return ProbeResult(success=False, duration_seconds=duration, reason=reason, values=dict(values))


Behaviour = Callable[[Target, int], "asyncio.Future[ProbeResult] | ProbeResult"]


class FakeProbes:
    """Fake probe functions for every kind, scripted per target; records every call.

    ``script[target_id]`` is an async callable ``(target, n) -> ProbeResult`` where n counts
    that target's calls from 0; without a script a call succeeds at once.
    """

    def __init__(self) -> None:
        self.script: dict[str, Callable[[Target, int], Any]] = {}
        self.calls: dict[str, int] = {}
        self.active = 0
        self.max_active = 0
        self.changed = asyncio.Event()

    async def __call__(self, t: Target, settings: Any, ctx: ProbeContext) -> ProbeResult:
        n = self.calls.get(t.id, 0)
        self.calls[t.id] = n + 1
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        self.changed.set()
        try:
            fn = self.script.get(t.id)
            if fn is None:
                return ok()
            result: ProbeResult = await fn(t, n)
            return result
        finally:
            self.active -= 1
            self.changed.set()

    def table(self) -> dict[str, Any]:
        """Return the kind -> probe mapping to inject."""
        return {k: self for k in ("icmp", "tcp", "http", "dns")}

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait (bounded) until predicate() holds, re-checking after every call change."""
        async with asyncio.timeout(timeout):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


async def hang_forever(t: Target, n: int) -> ProbeResult:
    """A probe that never answers."""
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


class ResultWatcher:
    """Collects results a Service records and lets a test await a condition on them."""

    def __init__(self) -> None:
        self.results: list[tuple[Target, ProbeResult, float]] = []
        self._changed = asyncio.Event()

    def __call__(self, t: Target, result: ProbeResult, wall: float) -> None:
        self.results.append((t, result, wall))
        self._changed.set()

    def of(self, target_id: str) -> list[ProbeResult]:
        """Return the results recorded for one target, in order."""
        return [r for t, r, _ in self.results if t.id == target_id]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait (bounded) until predicate() holds, re-checking after every result."""
        async with asyncio.timeout(timeout):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()


async def eventually(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll a condition that has no event of its own, failing after a bounded time."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)
