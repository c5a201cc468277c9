"""FAULTS.md, Probes: a wall clock stepping back, and IPv6 wanted where only IPv4 answers."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import time
from pathlib import Path
from typing import Any

import apscheduler.schedulers.base as aps_base
import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor.plan import TARGET_LABELS, Target
from monitor.service import Service
from probes import dns as dns_probe
from probes import http as http_probe
from probes import icmp as icmp_probe
from probes import tcp as tcp_probe
from probes.base import ProbeContext, ProbeResult
from probes.net import RESOLVER_RESOURCE, SystemResolver
from probes.settings import DnsSettings, HttpSettings, IcmpSettings, TcpSettings
from tests.probes.conftest import DnsServer
from tests.runtime.helpers import FakeProbes, Mpp, ResultWatcher, entity, plan, target

from .conftest import Serve, fetch, samples


def make_target(probe: str, address: str, settings: Any, timeout: float) -> Target:
    """A target as the inventory would expand it (labels empty)."""
    return Target(
        id=f"test/application/{probe}/{address}",
        probe=probe,  # type: ignore[arg-type]
        address=address,
        entity=f"test/application/{probe}",
        interval=10.0,
        timeout=timeout,
        settings=settings,
        labels=dict.fromkeys(TARGET_LABELS, ""),
    )


def check_times(r: ProbeResult) -> None:
    """Durations and phases are never negative, and the run took some time."""
    assert r.duration_seconds > 0, r
    assert all(v >= 0 for v in r.phases.values()), r.phases
    for key in ("lookup_seconds", "rtt_min_seconds", "rtt_mean_seconds", "rtt_max_seconds"):
        if key in r.values:
            assert r.values[key] >= 0, (key, r.values)


async def test_durations_never_negative_while_the_wall_clock_steps_back(
    monkeypatch: pytest.MonkeyPatch,
    web_ports: tuple[int, int],
    dns_server: DnsServer,
    silent_udp_port: int,
) -> None:
    """Every read of the wall clock is 10 s earlier than the one before (blackbox #38)."""
    real = time.time
    reads = itertools.count()

    def stepping_back() -> float:
        return real() - 10.0 * next(reads)

    monkeypatch.setattr(time, "time", stepping_back)  # also catches direct time.time() use
    ctx = ProbeContext(
        monotonic=time.monotonic,
        wall=stepping_back,
        resources={RESOLVER_RESOURCE: SystemResolver(["127.0.0.1"], port=dns_server.port)},
    )
    good, silent = web_ports
    runs: list[tuple[str, Any, Any, float]] = [
        ("http", f"http://127.0.0.1:{good}/", HttpSettings(), 2.0),
        # a name from the hosts file (dnspython gives up a lookup when the clock goes back)
        ("http", f"http://localhost:{good}/", HttpSettings(family="ip4"), 2.0),
        ("http", f"http://127.0.0.1:{silent}/", HttpSettings(), 0.5),  # cut at the deadline
        ("tcp", f"127.0.0.1:{good}", TcpSettings(), 2.0),
        ("dns", "127.0.0.1", DnsSettings(query_name="app.mpp.test", port=dns_server.port), 2.0),
        ("dns", "127.0.0.1", DnsSettings(query_name="app.mpp.test", port=silent_udp_port), 0.5),
    ]
    probes = {"http": http_probe.probe, "tcp": tcp_probe.probe, "dns": dns_probe.probe}
    results = await asyncio.gather(
        *(probes[kind](make_target(kind, a, s, t), s, ctx) for kind, a, s, t in runs)
    )
    ok_http, ok_name, cut, ok_tcp, ok_dns, dead_dns = results
    for r in (ok_http, ok_name, ok_tcp, ok_dns):
        assert r.success, r
        check_times(r)
    assert next(reads) > 0  # the wall clock was read (and went back) meanwhile
    for r, reason in ((cut, "timeout"), (dead_dns, "dns_timeout")):
        assert (r.success, r.reason) == (False, reason)
        check_times(r)
        assert 0.45 <= r.duration_seconds <= 0.55  # the deadline runs on the monotonic clock
    try:
        await icmp_probe.setup(ctx)
    except icmp_probe.IcmpUnavailable:
        return  # no ICMP privilege here: the ICMP unit tests cover its clock
    try:
        ping = await icmp_probe.probe(
            make_target("icmp", "127.0.0.1", None, 1.0), IcmpSettings(count=3, spacing=0.01), ctx
        )
    finally:
        icmp_probe.close(ctx)
    assert ping.success, ping
    check_times(ping)


class _SteppedClock:
    """A wall clock the test can step, shared by the Service and APScheduler's timetable."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset

    def datetime_class(self) -> type[dt.datetime]:
        clock = self

        class SteppedDatetime(dt.datetime):
            @classmethod
            def now(cls, tz: dt.tzinfo | None = None) -> SteppedDatetime:
                return cls.fromtimestamp(clock.time(), tz)

        return SteppedDatetime


async def test_a_wall_clock_step_neither_stalls_probing_nor_makes_negative_lateness(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = _SteppedClock()
    # APScheduler reads datetime.now() in its base module to find due jobs
    monkeypatch.setattr(aps_base, "datetime", clock.datetime_class())
    fake = FakeProbes()
    mpp = Mpp(interval=0.2, timeout=0.15)
    svc = Service(probes=fake.table(), wall=clock.time, refresh_interval=0.1)
    watcher = ResultWatcher()
    svc.listeners.append(watcher)
    try:
        await svc.apply_plan(mpp.plan())

        async def every_target_runs(times: int) -> None:
            n = {t.id: len(watcher.of(t.id)) for t in mpp.targets}
            # a few intervals and the re-planning tick, with room for a busy machine
            await watcher.wait_for(
                lambda: all(len(watcher.of(t.id)) >= n[t.id] + times for t in mpp.targets),
                timeout=5,
            )

        await every_target_runs(2)
        clock.offset = -3600.0  # NTP steps the clock back an hour
        await every_target_runs(3)
        clock.offset = 3600.0  # and two hours forward
        await every_target_runs(3)
        sched = svc.scheduler
        assert sched.clock_steps == 2
        assert sched.lateness.sum >= 0
        assert sorted(sched.job_ids()) == sorted(t.id for t in mpp.targets)  # no duplicates
        assert all(r.duration_seconds >= 0 for _, r, _ in watcher.results)
    finally:
        await svc.stop()


@pytest.fixture
def dual_stack_hosts(tmp_path: Path, ipv6_loopback: str) -> Path:
    """A hosts file where one name has both an IPv4 and an IPv6 address."""
    hosts = tmp_path / "hosts"
    hosts.write_text(f"127.0.0.1 both.mpp.test\n{ipv6_loopback} both.mpp.test\n")
    return hosts


async def test_ipv6_wanted_but_unreachable_is_reported_as_ipv6_without_fallback(
    serve: Serve, web_ports: tuple[int, int], dual_stack_hosts: Path, silent_udp_port: int
) -> None:
    """The service listens on 127.0.0.1 only; ip6 must fail over ::1 and say so in /metrics."""
    port, _ = web_ports
    resolver = SystemResolver(["127.0.0.1"], port=silent_udp_port, hosts_file=dual_stack_hosts)
    app = entity("application", "portal", "dpmptsp")
    url = f"http://both.mpp.test:{port}/"
    v6 = target(app, "http-v6", "http", interval=0.5, timeout=0.4, address=url,
                settings=HttpSettings(family="ip6"))  # fmt: skip
    auto = target(app, "http-auto", "http", interval=0.5, timeout=0.4, address=url,
                  settings=HttpSettings(family="auto"))  # fmt: skip
    tcp6 = target(app, "tcp-v6", "tcp", interval=0.5, timeout=0.4,
                  address=f"both.mpp.test:{port}", settings=TcpSettings(family="ip6"))  # fmt: skip
    served = await serve(plan([app], [v6, auto, tcp6]), resources={RESOLVER_RESOURCE: resolver})
    watcher = served.watcher
    await watcher.wait_for(lambda: all(watcher.of(t.id) for t in (v6, auto, tcp6)))
    _, _, text = await fetch(served.url + "metrics")
    family = samples(text, "probe_ip_protocol")
    success = samples(text, "probe_success")
    assert (success[v6.id], family[v6.id]) == (0.0, 6.0)
    assert (success[tcp6.id], family[tcp6.id]) == (0.0, 6.0)
    assert (success[auto.id], family[auto.id]) == (1.0, 4.0)
    for t in (v6, tcp6):
        assert watcher.of(t.id)[0].reason == "connect_refused"
    failures = [
        s
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
        if s.name == "mpp_probe_failures_total" and s.labels["target"] == v6.id
    ]
    assert [(s.labels["reason"], s.value >= 1) for s in failures] == [("connect_refused", True)]
