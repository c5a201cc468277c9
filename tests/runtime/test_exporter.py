"""Exporter: Collector read-back, fast renderer == prometheus_client, promtool, removal."""

from __future__ import annotations

import asyncio
import gzip
import math
import shutil
import subprocess
import time
from dataclasses import dataclass, field, replace

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.utils import floatToGoString

from monitor import __version__
from monitor.exporter import MetricsRenderer, MonitorCollector, fmt_value
from monitor.scheduler import Scheduler
from monitor.state import State
from probes.base import ProbeContext, ProbeResult

from .helpers import FakeProbes, Mpp, fail, plan

T0 = 1_700_000_000.0
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


@dataclass
class Notifier:
    stats: dict[tuple[str, str, str], int]
    queue_length: int
    outbox_stats: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict)


class Source:
    """A MetricsSource without a running service."""

    def __init__(self, state: State, scheduler: Scheduler) -> None:
        self.state = state
        self.scheduler = scheduler
        self.reload_successful = True
        self.reload_success_timestamp: float | None = T0


def http_ok() -> ProbeResult:
    return ProbeResult(
        success=True,
        duration_seconds=0.123,
        phases={"resolve": 0.001, "connect": 0.01, "tls": 0.02, "processing": 0.08},
        values={
            "status_code": 200,
            "http_version": 1.1,
            "content_length": 5120,
            "redirects": 1,
            "ssl_earliest_cert_expiry": 1_800_000_000,
            "ip_protocol": 4,
        },
        info={"tls_version": "TLS 1.3", "http_version_text": "HTTP/1.1"},
    )


def icmp_ok(loss: float = 0.0, rtt: float = 0.004) -> ProbeResult:
    return ProbeResult(
        success=True,
        duration_seconds=0.41,
        phases={"resolve": 0.0, "setup": 0.0001, "rtt": rtt},
        values={
            "packets_sent": 3,
            "packets_received": 3 - round(loss * 3),
            "loss_ratio": loss,
            "rtt_min_seconds": rtt / 2,
            "rtt_median_seconds": rtt,
            "rtt_mean_seconds": rtt,
            "rtt_max_seconds": rtt * 2,
            "rtt_stddev_seconds": 0.0005,
            "ip_protocol": 4,
        },
    )


def dns_ok() -> ProbeResult:
    return ProbeResult(
        success=True,
        duration_seconds=0.002,
        phases={"lookup": 0.0019},
        values={"lookup_seconds": 0.0019, "dns_answer_rrs": 2, "dns_rcode": 0},
    )


def tcp_fail() -> ProbeResult:
    return ProbeResult(
        success=False,
        duration_seconds=0.0004,
        reason="connect_refused",
        phases={"resolve": 0.0, "connect": 0.0003},
        values={"ip_protocol": 4},
    )


def nasty(mpp: Mpp) -> Mpp:
    """Give the counter's agency a label value that needs escaping."""
    weird = 'bpjs "kesehatan" \\ cabang\nParser <script>'
    for name in ("pc", "printer"):
        e = getattr(mpp, name)
        setattr(mpp, name, replace(e, labels={**e.labels, "agency": weird}))
    mpp.entities = [mpp.isp_a, mpp.isp_b, mpp.core, mpp.access, mpp.pc, mpp.printer, mpp.app]
    mpp.targets = [
        replace(t, labels=dict(mpp.pc.labels)) if t.entity == mpp.pc.id else t for t in mpp.targets
    ]
    return mpp


def populated(mpp: Mpp) -> Source:
    """Return a source whose state has every probe kind, failures, faults and a link."""
    state = State(wall=lambda: T0)
    state.apply_plan(mpp.plan(), T0)
    for k in range(2):
        w = T0 + k
        for t in (mpp.t_isp_a_gw, mpp.t_isp_a_dns, mpp.t_isp_b):
            state.record(t.id, icmp_ok(loss=0.34, rtt=0.2), w)
        for t in (mpp.t_core, mpp.t_access, mpp.t_pc):
            state.record(t.id, icmp_ok(), w)
        state.record(mpp.t_pc_rdp.id, tcp_fail(), w)
        state.record(mpp.t_printer.id, fail("timeout"), w)
        state.record(mpp.t_app.id, http_ok(), w)
        state.record(mpp.t_app_dns.id, dns_ok(), w)
    state.record(mpp.t_printer.id, fail("host_unreachable"), T0 + 2)
    fake = FakeProbes()
    sched = Scheduler(lambda *a: None, ProbeContext(time.monotonic, time.time), probes=fake.table())
    for v in (0.0004, 0.003, 0.03, 7.0, 99.0):
        sched.lateness.observe(v)
    sched.skipped = 2
    return Source(state, sched)


def registry_for(src: Source, notifier: Notifier | None = None) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(MonitorCollector(src, (lambda: notifier) if notifier else None))
    return reg


def base(mpp: Mpp, t_id: str) -> dict[str, str]:
    t = next(t for t in mpp.targets if t.id == t_id)
    return {"target": t.id, "probe": t.probe, **t.labels}


def ent(e_labels: dict[str, str], eid: str) -> dict[str, str]:
    return {**e_labels, "entity": eid}


def test_collector_read_back_with_a_fresh_registry(mpp: Mpp) -> None:
    src = populated(mpp)
    box = {("bpjs", "telegram"): (1, 95.5), ("kominfo", "sms"): (0, 0.0)}
    reg = registry_for(src, Notifier({("bpjs", "telegram", "sent"): 3}, 1, box))
    get = reg.get_sample_value
    app = base(mpp, mpp.t_app.id)
    assert get("probe_success", app) == 1.0
    assert get("probe_http_duration_seconds", {**app, "phase": "connect"}) == 0.01
    assert get("probe_http_duration_seconds", {**app, "phase": "transfer"}) == 0.0
    assert get("probe_http_status_code", app) == 200
    assert get("probe_ssl_earliest_cert_expiry", app) == 1_800_000_000
    assert get("probe_tls_version_info", {**app, "version": "TLS 1.3"}) == 1
    dns = base(mpp, mpp.t_app_dns.id)
    assert get("probe_dns_lookup_time_seconds", dns) == 0.0019
    assert get("probe_dns_rcode_info", {**dns, "rcode": "NOERROR"}) == 1
    gw = base(mpp, mpp.t_isp_a_gw.id)
    assert get("probe_icmp_packet_loss_ratio", gw) == 0.34
    assert get("probe_icmp_packets_sent_count", gw) == 3
    assert get("probe_icmp_duration_seconds", {**gw, "phase": "rtt"}) == 0.2
    printer = base(mpp, mpp.t_printer.id)
    assert get("probe_success", printer) == 0.0
    assert get("mpp_probe_runs_total", printer) == 3
    assert get("mpp_probe_successes_total", printer) == 0
    assert get("mpp_probe_failures_total", {**printer, "reason": "timeout"}) == 2
    assert get("mpp_probe_failures_total", {**printer, "reason": "host_unreachable"}) == 1
    assert get("mpp_probe_last_run_timestamp_seconds", printer) == T0 + 2
    assert get("mpp_target_status", {**printer, "status": "down"}) == 1
    assert get("mpp_target_status", {**printer, "status": "up"}) == 0
    rdp = base(mpp, mpp.t_pc_rdp.id)
    assert get("probe_tcp_duration_seconds", {**rdp, "phase": "connect"}) == 0.0003
    pc_labels = {k: v for k, v in mpp.pc.labels.items()}
    assert get("mpp_entity_status", {**ent(pc_labels, mpp.pc.id), "status": "down"}) == 1
    assert get("mpp_entity_fault_owner", {**ent(pc_labels, mpp.pc.id), "owner_team": "bpjs"}) == 1
    isp_a = ent(dict(mpp.isp_a.labels), mpp.isp_a.id)
    assert get("mpp_link_state", {**isp_a, "state": "degraded"}) == 1
    assert get("mpp_link_loss_ratio", isp_a) == pytest.approx(0.34)
    assert get("mpp_link_rtt_median_seconds", isp_a) == 0.2
    assert get("mpp_site_internet_up", {"site": "paser"}) == 1
    counter = {"site": "paser", "counter": "01", "agency": "bpjs", "team": "bpjs"}
    assert get("mpp_can_serve", counter) == 0
    assert get("mpp_desk_status", {**counter, "status": "down"}) == 1
    assert get("mpp_desk_status", {**counter, "status": "up"}) == 0
    assert get("mpp_desk_fault_owner", {**counter, "owner_team": "bpjs"}) == 1
    assert get("mpp_targets", {"site": "paser", "probe": "icmp"}) == 7
    assert get("mpp_config_last_reload_successful") == 1
    assert get("mpp_config_last_reload_success_timestamp_seconds") == T0
    assert get("mpp_scheduler_start_lateness_seconds_bucket", {"le": "0.005"}) == 2
    assert get("mpp_scheduler_start_lateness_seconds_bucket", {"le": "+Inf"}) == 5
    assert get("mpp_scheduler_start_lateness_seconds_count") == 5
    assert get("mpp_scheduler_runs_skipped_total") == 2
    assert get("mpp_probes_in_flight") == 0
    assert get("mpp_build_info", {"version": __version__, "python": _python()}) == 1
    tg = {"team": "bpjs", "channel": "telegram", "result": "sent"}
    assert get("mpp_notifier_messages_total", tg) == 3
    assert get("mpp_notifier_queue_length") == 1
    assert get("mpp_notifier_outbox_messages", {"team": "bpjs", "channel": "telegram"}) == 1
    assert (
        get("mpp_notifier_outbox_oldest_age_seconds", {"team": "bpjs", "channel": "telegram"})
        == 95.5
    )
    assert get("mpp_notifier_outbox_messages", {"team": "kominfo", "channel": "sms"}) == 0


def _python() -> str:
    import sys

    return ".".join(str(x) for x in sys.version_info[:3])


def test_fast_renderer_output_is_identical_to_prometheus_client(mpp: Mpp) -> None:
    src = populated(nasty(mpp))
    notifier = Notifier(
        {("bpjs", "telegram", "sent"): 3, ("kominfo", "wa", "failed"): 1},
        4,
        {("bpjs", "telegram"): (3, 12.25), ("kominfo", "wa"): (1, 0.5)},
    )
    fast = MetricsRenderer(src, lambda: notifier).render()
    assert fast == generate_latest(registry_for(src, notifier))
    assert b'agency="bpjs \\"kesehatan\\" \\\\ cabang\\nParser <script>"' in fast
    # and again from the caches, after a new result and a status change
    renderer = MetricsRenderer(src, lambda: notifier)
    renderer.render()
    src.state.record(mpp.t_app.id, fail("status"), T0 + 5)
    src.state.record(mpp.t_app.id, fail("status"), T0 + 6)
    again = renderer.render()
    assert again == generate_latest(registry_for(src, notifier))
    assert b"mpp_entity_fault_owner{" in again


def test_promtool_check_metrics_reports_nothing(mpp: Mpp) -> None:
    src = populated(nasty(mpp))
    text = MetricsRenderer(src, lambda: Notifier({("bpjs", "wa", "dropped"): 1}, 0)).render()
    done = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=text, capture_output=True, timeout=30
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")


def test_promtool_notices_a_bad_exposition() -> None:
    # the check above can fail: promtool does lint what we feed it
    bad = b"# HELP x_count c\n# TYPE x_count gauge\nx_count 1\n"
    done = subprocess.run([PROMTOOL, "check", "metrics"], input=bad, capture_output=True)
    assert done.returncode != 0


def test_a_removed_target_disappears_from_the_next_scrape(mpp: Mpp) -> None:
    src = populated(mpp)
    renderer = MetricsRenderer(src)
    before = renderer.render().decode()
    assert mpp.t_printer.id in before
    assert f'entity="{mpp.printer.id}"' in before
    keep = [t for t in mpp.targets if t.entity != mpp.printer.id]
    entities = [e for e in mpp.entities if e.id != mpp.printer.id]
    counter = replace(mpp.counter, devices=(mpp.pc.id,))
    src.state.apply_plan(plan(entities, keep, [counter]), T0 + 10)
    after = renderer.render().decode()
    assert mpp.printer.id not in after
    assert after.count(f'target="{mpp.t_pc.id}"') == before.count(f'target="{mpp.t_pc.id}"')
    assert after == generate_latest(registry_for(src)).decode()


def test_cached_series_follow_new_results_and_maintenance(mpp: Mpp) -> None:
    src = populated(mpp)
    renderer = MetricsRenderer(src)
    first = renderer.render().decode()
    line = f'mpp_probe_runs_total{{agency="",counter="",device="",entity="{mpp.core.id}"'
    assert f"{line}" in first
    src.state.record(mpp.t_core.id, icmp_ok(), T0 + 3)
    runs = [ln for ln in renderer.render().decode().splitlines() if ln.startswith(line)]
    assert runs and runs[0].endswith(" 3.0")
    src.state.set_maintenance(lambda eid, wall: eid == mpp.core.id)
    text = renderer.render().decode()
    assert (
        f'mpp_target_status{{agency="",counter="",device="",entity="{mpp.core.id}",kind="infra",'
        f'link="",probe="icmp",site="paser",status="maintenance",target="{mpp.t_core.id}",'
        f'team="kominfo",via=""}} 1.0'
    ) in text


def test_no_results_yet_gives_counters_and_unknown_status_only(mpp: Mpp) -> None:
    state = State(wall=lambda: T0)
    state.apply_plan(mpp.plan(), T0)
    sched = Scheduler(lambda *a: None, ProbeContext(time.monotonic, time.time), probes={})
    src = Source(state, sched)
    src.reload_successful = False
    src.reload_success_timestamp = None
    text = MetricsRenderer(src).render()
    assert b"\nprobe_success{" not in text
    assert b"mpp_can_serve" not in text
    assert b"mpp_config_last_reload_successful 0.0\n" in text
    assert b"mpp_config_last_reload_success_timestamp_seconds" not in text
    reg = registry_for(src)
    labels = {**base(mpp, mpp.t_pc.id), "status": "unknown"}
    assert reg.get_sample_value("mpp_target_status", labels) == 1
    assert text == generate_latest(reg)


@pytest.mark.parametrize(
    "v",
    [0, 1, -1, 0.1, 1e-9, 123456.7, 1234567.0, 1_700_000_000.25, 1e22, -3e9, math.inf, -math.inf],
)
def test_fmt_value_matches_prometheus_client(v: float) -> None:
    assert fmt_value(v) == floatToGoString(v)
    assert fmt_value(math.nan) == "NaN"


async def test_async_and_gzipped_renderings_are_the_same_text(mpp: Mpp) -> None:
    src = populated(mpp)
    renderer = MetricsRenderer(src, slice_seconds=0.0)
    whole = renderer.render()
    assert await renderer.render_async() == whole
    pieces = await renderer.render_pieces()
    assert len(pieces) > 10 and b"".join(pieces) == whole
    zipped = b"".join(await renderer.gzip(pieces))
    renderer.close()
    assert gzip.decompress(zipped) == whole


def test_every_family_is_declared_once_and_documented() -> None:
    from pathlib import Path

    from monitor.exporter import ALL_FAMILIES, families

    names = [f.name for f in ALL_FAMILIES]
    assert len(names) == len(set(names)), names
    in_module = {v for v in vars(families).values() if isinstance(v, families.Family)}
    assert in_module <= set(ALL_FAMILIES), in_module - set(ALL_FAMILIES)  # none left out
    doc = (Path(__file__).resolve().parents[2] / "docs" / "metrics.md").read_text()
    assert not [n for n in names if f"`{n}" not in doc], "families missing from docs/metrics.md"


async def _ticks_during(coro: object) -> int:
    """Await a render while a ticker counts the loop iterations it let through."""
    ticks = 0
    done = False

    async def ticker() -> None:
        nonlocal ticks
        while not done:
            await asyncio.sleep(0)
            ticks += 1

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    await coro  # type: ignore[misc]
    done = True
    await task
    return ticks


async def test_rendering_yields_to_the_loop_after_each_slice(mpp: Mpp) -> None:
    src = populated(mpp)
    series = sum(1 for _ in src.state.target_states()) + sum(1 for _ in src.state.entity_states())
    eager = MetricsRenderer(src, slice_seconds=0.0)  # a slice is one target or entity
    whole = eager.render()
    assert await _ticks_during(eager.render_async()) >= series
    lazy = MetricsRenderer(src, slice_seconds=60.0)  # never out of time: fixed yields only
    assert await _ticks_during(lazy.render_async()) < series
    assert await lazy.render_async() == whole  # slicing never changes the text


async def test_warm_up_yields_too(mpp: Mpp) -> None:
    src = populated(mpp)
    series = sum(1 for _ in src.state.target_states()) + sum(1 for _ in src.state.entity_states())
    renderer = MetricsRenderer(src, slice_seconds=0.0)
    assert await _ticks_during(renderer.warm()) >= series
    assert len(renderer._tlabels) + len(renderer._elabels) == series


def test_refresh_in_steps_evaluates_every_entity_like_refresh(mpp: Mpp) -> None:
    def statuses(state: State) -> dict[str, str]:
        return {es.entity.id: es.status for es in state.entity_states()}

    stepped, whole = populated(mpp).state, populated(mpp).state
    ids = list(statuses(whole))
    window = {ids[0]}  # the first entity (a parent of others) goes into maintenance
    for state in (stepped, whole):
        state.set_maintenance(lambda eid, _now: eid in window)
    whole.refresh()
    steps = list(stepped.refresh_steps(every=2))
    assert len(steps) == len(ids) // 2
    assert statuses(stepped) == statuses(whole)
    assert statuses(whole)[ids[0]] == "maintenance"
