"""A reload is all or nothing: one failure per apply stage leaves the old plan running as it was.

Each case is a new plan that adds an application (so a half-applied reload would show it)
and carries one poison that only one stage of ``Service.prepare`` can find. The reload goes
the way an operator's does (``POST /-/reload`` through the Reloader, over loopback HTTP); the
old plan must then keep running unchanged: the same targets in /metrics, their runs counters
still increasing, the same jobs, the new application nowhere; the reload metric 0, the status
page's banner shown, the log naming the stage and the reason. A good reload afterwards works.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from monitor.commands.run import run_until
from monitor.notify.channels.webhook import WebhookChannel
from monitor.plan import Plan, SiteInfo, TeamInfo
from monitor.service import STAGES, Service, notifier_routing
from monitor.web.app import Reloader, make_app

from .helpers import SITE, FakeProbes, Mpp, ResultWatcher, entity, eventually, target

HOOK = WebhookChannel(kind="webhook", name="noc", url="http://127.0.0.1:9/noc")
NEW_APP = entity("application", "dukcapil-siak", "dukcapil", agency="dukcapil")
NEW_TARGET = target(NEW_APP, "http", "http", interval=0.2, timeout=0.15)


def _site(*channels: WebhookChannel) -> SiteInfo:
    return SiteInfo(id=SITE, name="MPP", teams=(TeamInfo("kominfo", "Kominfo", channels),))


def _old(m: Mpp) -> Plan:
    return replace(m.plan(), sites=(_site(HOOK),))


def _with_new_app(m: Mpp, *, targets: list[Any] | None = None, **changes: Any) -> Plan:
    """The old plan plus the new application, with the given targets and fields changed."""
    base = _old(m)
    return replace(
        base,
        targets=(*(targets if targets is not None else m.targets), NEW_TARGET),
        entities={**base.entities, NEW_APP.id: NEW_APP},
        **changes,
    )


@dataclass(frozen=True)
class Case:
    stage: str
    reason: str  # a regular expression the recorded reason must match
    new_plan: Callable[[Mpp], Plan]
    broken_windows: bool = False


def _retimed(m: Mpp, changed: Any) -> list[Any]:
    return [changed if t.id == changed.id else t for t in m.targets]


def _inf_interval(m: Mpp) -> Plan:
    # the reproduction: one application added, another's interval set to .inf
    return _with_new_app(m, targets=_retimed(m, replace(m.t_app, interval=float("inf"))))


def _unknown_entity(m: Mpp) -> Plan:
    orphan = replace(target(NEW_APP, "icmp"), entity=f"{SITE}/application/hilang")
    return _with_new_app(m, targets=[*m.targets, orphan])


def _cycle(m: Mpp) -> Plan:
    p = _with_new_app(m)
    looped = replace(m.core, depends_on=(m.access.id,))
    return replace(p, entities={**p.entities, m.core.id: looped})


def _unknown_probe(m: Mpp) -> Plan:
    return _with_new_app(m, targets=[*m.targets, target(NEW_APP, "ftp", "ftp")])


def _tiny_interval(m: Mpp) -> Plan:
    return _with_new_app(m, targets=_retimed(m, replace(m.t_core, interval=1e-300, timeout=1e-301)))


def _clashing_channels(m: Mpp) -> Plan:
    return _with_new_app(
        m, sites=(_site(HOOK, HOOK.model_copy(update={"url": "http://127.0.0.1:9/b"})),)
    )


CASES = {
    "unknown-entity": Case(
        "state", r"refers to unknown entity paser/application/hilang", _unknown_entity
    ),
    "dependency-cycle": Case("state", r"dependency cycle among entities", _cycle),
    "unknown-probe": Case("jobs", r"^no probe for kind 'ftp'$", _unknown_probe),
    "infinite-interval": Case(
        "jobs", r"interval and timeout must be positive and finite", _inf_interval
    ),
    "interval-no-timetable-holds": Case("jobs", r"cannot schedule every 1e-300s", _tiny_interval),
    "broken-maintenance-window": Case(
        "maintenance", r"^year 10000 is out of range$", _with_new_app, broken_windows=True
    ),
    "clashing-channel-names": Case("routing", r"noc", _clashing_channels),
}


def test_every_stage_has_a_failure_case() -> None:
    assert {c.stage for c in CASES.values()} == set(STAGES)


class Running:
    """A service on the fast MPP with a reloader whose next plan the test chooses."""

    def __init__(self, fake: FakeProbes, m: Mpp) -> None:
        self.m = m
        self.next_plan: Plan = _old(m)
        self.broken_windows = False
        self.service = Service(
            probes=fake.table(),
            maintenance_for=self._windows,
            routing_for=notifier_routing,
            refresh_interval=0.05,
        )
        self.watcher = ResultWatcher()
        self.service.listeners.append(self.watcher)
        self.reloader = Reloader(self.service, "inventory.yaml", lambda _path: self.next_plan)

    def _windows(self, p: Plan) -> Callable[[str, float], bool]:
        broken = self.broken_windows  # only the new plan's windows are broken

        def in_maintenance(eid: str, wall: float) -> bool:
            if broken:  # what a calendar bug past year 9999 would raise
                raise ValueError("year 10000 is out of range")
            return False

        return in_maintenance

    def runs(self) -> dict[str, int]:
        return {ts.target.id: ts.runs for ts in self.service.state.target_states()}


@pytest.fixture
async def running(fake_probes: FakeProbes) -> AsyncIterator[tuple[Running, TestClient[Any, Any]]]:
    r = Running(fake_probes, Mpp(interval=0.2, timeout=0.15))
    await r.service.apply_plan(r.next_plan)
    app = make_app(r.service, r.reloader)
    try:
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            yield r, client
    finally:
        await r.service.stop()


def _metric_targets(text: str) -> set[str]:
    return set(re.findall(r'^probe_success\{[^}]*target="([^"]+)"', text, re.M))


def _sample(text: str, name: str) -> float:
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    assert m, name
    return float(m.group(1))


@pytest.mark.parametrize("name", sorted(CASES))
async def test_a_failed_stage_leaves_the_old_plan_running_unchanged(
    name: str,
    running: tuple[Running, TestClient[Any, Any]],
    fake_probes: FakeProbes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    r, client = running
    case = CASES[name]
    svc, m = r.service, r.m
    old_plan = svc.plan
    await r.watcher.wait_for(lambda: all(n >= 2 for n in r.runs().values()))
    before_metrics = await (await client.get("/metrics")).text()
    assert _metric_targets(before_metrics) == {t.id for t in m.targets}
    jobs = {tid: svc.scheduler.job_interval(tid) for tid in svc.scheduler.job_ids()}
    scheduled = dict(svc.scheduler.targets)
    states = {ts.target.id: ts for ts in svc.state.target_states()}

    r.next_plan = case.new_plan(m)
    r.broken_windows = case.broken_windows
    with caplog.at_level(logging.ERROR, logger="monitor.service"):
        answer = await client.post("/-/reload")
        body = await answer.text()
    runs_after_reload = r.runs()

    assert answer.status == 400, body
    assert svc.last_reload_error is not None
    assert re.search(case.reason, svc.last_reload_error), svc.last_reload_error
    logged = [rec.getMessage() for rec in caplog.records if rec.name == "monitor.service"]
    assert logged == [
        f"configuration not applied (building the new {case.stage}), keeping the previous one: "
        f"{svc.last_reload_error}"
    ]
    # the old plan, as it was: the same objects in the state and the scheduler, the same jobs
    assert svc.plan is old_plan
    assert dict(svc.scheduler.targets) == scheduled
    assert all(svc.scheduler.targets[t] is scheduled[t] for t in scheduled)
    assert {ts.target.id: ts for ts in svc.state.target_states()} == states
    assert all(svc.state.target_state(t).target is scheduled[t] for t in scheduled)
    assert {tid: svc.scheduler.job_interval(tid) for tid in svc.scheduler.job_ids()} == jobs
    # probing goes on: every old target runs again, the new application never
    await r.watcher.wait_for(
        lambda: all(r.runs()[t] >= runs_after_reload[t] + 2 for t in runs_after_reload)
    )
    assert NEW_TARGET.id not in fake_probes.calls
    after_metrics = await (await client.get("/metrics")).text()
    assert _metric_targets(after_metrics) == _metric_targets(before_metrics)
    assert NEW_APP.id not in after_metrics
    assert _sample(after_metrics, "mpp_config_last_reload_successful") == 0
    status = await (await client.get("/api/v1/status")).json()
    assert status["config_reload_successful"] is False
    assert NEW_APP.id not in str(status)
    page = await (await client.get("/")).text()
    assert 'id="reload-failed"' in page

    # and nothing is wedged: a good file afterwards applies whole
    r.broken_windows = False
    r.next_plan = _with_new_app(m)
    answer = await client.post("/-/reload")
    assert answer.status == 200, await answer.text()
    await fake_probes.wait_for(lambda: fake_probes.calls.get(NEW_TARGET.id, 0) >= 1)
    metrics = await (await client.get("/metrics")).text()
    assert _metric_targets(metrics) == {t.id for t in m.targets} | {NEW_TARGET.id}
    assert _sample(metrics, "mpp_config_last_reload_successful") == 1
    assert 'id="reload-failed"' not in await (await client.get("/")).text()


async def test_a_dry_run_builds_everything_and_changes_nothing(
    running: tuple[Running, TestClient[Any, Any]],
) -> None:
    r, _ = running
    svc = r.service
    before = (svc.plan, dict(svc.scheduler.targets), sorted(svc.scheduler.job_ids()))
    commit = svc.prepare(_with_new_app(r.m))
    assert callable(commit)
    assert (svc.plan, dict(svc.scheduler.targets), sorted(svc.scheduler.job_ids())) == before
    assert NEW_TARGET.id not in {ts.target.id for ts in svc.state.target_states()}


async def test_sighup_is_all_or_nothing_too(
    running: tuple[Running, TestClient[Any, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    """The issue's SIGHUP half-applied silently: now it rejects the same way, and says so."""
    r, client = running
    old_plan = r.service.plan
    r.next_plan = _inf_interval(r.m)
    stop = asyncio.Event()
    with caplog.at_level(logging.ERROR, logger="monitor.service"):
        serving = asyncio.create_task(run_until(stop, r.reloader, "inventory.yaml"))
        await asyncio.sleep(0)  # one turn of the loop: run_until installs its handler
        os.kill(os.getpid(), signal.SIGHUP)
        await eventually(lambda: not r.service.reload_successful)
        stop.set()
        await serving
    assert r.service.plan is old_plan
    assert NEW_TARGET.id not in r.service.scheduler.job_ids()
    assert [rec.getMessage() for rec in caplog.records if rec.name == "monitor.service"] == [
        "configuration not applied (building the new jobs), keeping the previous one: "
        f"target {r.m.t_app.id}: interval and timeout must be positive and finite"
    ]
    metrics = await (await client.get("/metrics")).text()
    assert _sample(metrics, "mpp_config_last_reload_successful") == 0
