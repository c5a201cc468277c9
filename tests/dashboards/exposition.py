"""The real mpp-monitor exporter on 127.0.0.1, over a small inventory, for the dashboard tests.

A real ``monitor.service.Service`` runs the plan that ``monitor.inventory`` expands from
``INVENTORY`` (one site, ``paser``: two uplinks with two ICMP anchors, a DNS and an HTTP
check each; a router and a switch; three counters of two agencies with four devices, one
also checked over TCP; two applications, one over HTTPS) and serves its /metrics with the
monitor's own web app (``monitor.web.app.make_app``), as ``mpp-monitor run`` does. So every
series, label and roll-up (entity status, fault owner, link state and loss, can-serve,
service hours, scheduler lateness, reloads) comes from the monitor's code, not from a copy
of the metric contract.

Only the probes are scripted, since this machine cannot send ICMP unprivileged and the
addresses have no servers: each kind returns what the real probe returns (the same phases,
values and info keys). The faults: the PC of counter 2 fails every run (so counter 2 cannot
serve and its agency's team owns the fault), and the application ``siak`` times out every
third run (a failure reason; it stays up). A notifier reports messages sent and failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from monitor.inventory import load_plan
from monitor.plan import Target
from monitor.service import Service
from monitor.web.app import Reloader, WebServer, make_app
from probes.base import ProbeContext, ProbeResult

SITE = "paser"
CONFIG_NAME = "dashboards-test.yaml"  # never read: the loader gets INVENTORY
DOWN_DEVICE = f"{SITE}/device/gerai-02-pc"  # fails every run: counter 2 cannot serve
FLAKY_APP = f"{SITE}/application/dukcapil-siak"  # times out every third run, stays up


def _link(link: str, name: str, net: int) -> str:
    """One uplink: two ICMP anchors, a DNS and an HTTP check through it."""
    a = f"127.1.{net}"
    return f"""\
      - id: {link}
        name: {name}
        anchors:
          - {{name: gw, address: {a}.1}}
          - {{name: dns-anchor, address: {a}.2}}
          - {{name: dns, probe: dns, address: {a}.3, settings: {{query_name: mpp.example}}}}
          - {{name: web, probe: http, address: "http://{a}.4:8080/generate_204"}}
"""


LINKS = _link("isp-telkom", "Telkom", 1) + _link("isp-lintasarta", "Lintasarta", 2)
INVENTORY = f"""\
defaults: {{interval: 1s, timeout: 0.5s, down_after: 2, up_after: 1}}
sites:
  - id: {SITE}
    name: MPP Paser (uji dasbor)
    timezone: Asia/Makassar
    service_hours: {{days: [mon, tue, wed, thu, fri, sat, sun], open: "00:00", close: "24:00"}}
    closed_days: {{holidays: null}}
    network_team: kominfo
    manager_team: dpmptsp
    teams:
      - {{id: kominfo, name: Diskominfo}}
      - {{id: dpmptsp, name: DPMPTSP}}
      - {{id: it-dukcapil, name: Tim TI Disdukcapil}}
      - {{id: it-bpjs-kes, name: Tim TI BPJS Kesehatan}}
    links:
{LINKS}    infrastructure:
      - {{id: router, name: Router, kind: router, address: 127.2.0.1, checks: [icmp]}}
      - {{id: sw-lantai1, name: Switch lantai 1, kind: switch, address: 127.2.1.1,
          parent: router, checks: [icmp]}}
    agencies:
      - id: dukcapil
        name: Disdukcapil
        team: it-dukcapil
        applications:
          - {{id: siak, name: SIAK, url: "http://127.20.0.1:8080/health", links: [isp-telkom]}}
      - id: bpjs-kes
        name: BPJS Kesehatan
        team: it-bpjs-kes
        applications:
          - {{id: vclaim, name: VClaim, url: "https://127.20.0.2:8443/health",
              links: [isp-telkom, isp-lintasarta]}}
    counters:
      - number: 1
        agency: dukcapil
        switch: sw-lantai1
        devices:
          - {{id: pc, kind: pc, name: PC gerai, address: 127.10.0.1, checks: [icmp]}}
          - {{id: printer, kind: printer, name: Printer, address: 127.11.0.1, checks: [icmp]}}
      - number: 2
        agency: dukcapil
        switch: sw-lantai1
        devices:
          - {{id: pc, kind: pc, name: PC gerai, address: 127.10.0.2, checks: [icmp]}}
      - number: 3
        agency: bpjs-kes
        switch: sw-lantai1
        devices:
          - {{id: pc, kind: pc, name: PC gerai, address: 127.10.0.3, checks: [icmp, "tcp:3389"]}}
"""


def icmp(n: int, *, reachable: bool = True) -> ProbeResult:
    """Three echo requests; on links one of them is lost every third run."""
    if not reachable:
        return ProbeResult(False, 0.5, "timeout", {"resolve": 0.0, "setup": 0.0001})
    rtt = 0.004 + 0.001 * (n % 5)
    lost = 1 if n % 3 == 0 else 0
    return ProbeResult(
        True,
        0.41,
        phases={"resolve": 0.0, "setup": 0.0001, "rtt": rtt},
        values={
            "packets_sent": 3,
            "packets_received": 3 - lost,
            "loss_ratio": lost / 3,
            **{f"rtt_{k}_seconds": rtt * f for k, f in (("min", 0.5), ("median", 1), ("max", 2))},
            "rtt_mean_seconds": rtt * 1.1,
            "rtt_stddev_seconds": rtt / 8,
            "ip_protocol": 4,
        },
    )


def http(n: int, *, tls: bool, flaky: bool) -> ProbeResult:
    """A 200 answer (with certificate data over HTTPS); a timeout every third run if flaky."""
    if flaky and n % 3 == 2:
        return ProbeResult(False, 0.5, "timeout", {"resolve": 0.0, "connect": 0.002})
    phases = {"resolve": 0.0, "connect": 0.002, "processing": 0.05 + 0.01 * (n % 4)}
    values: dict[str, float] = {"status_code": 200, "http_version": 1.1, "ip_protocol": 4}
    values |= {"content_length": 512, "redirects": 0}
    info = {"http_version_text": "HTTP/1.1"}
    if tls:
        phases["tls"] = 0.01
        values["ssl_earliest_cert_expiry"] = 1_900_000_000
        info["tls_version"] = "TLS 1.3"
    return ProbeResult(True, sum(phases.values()), phases=phases, values=values, info=info)


def tcp(n: int) -> ProbeResult:
    """A connection that opens."""
    connect = 0.0003 + 0.0001 * (n % 3)
    return ProbeResult(True, connect, phases={"resolve": 0.0, "connect": connect})


def dns(n: int) -> ProbeResult:
    """A NOERROR answer with two records."""
    lookup = 0.002 + 0.0005 * (n % 2)
    return ProbeResult(
        True,
        lookup,
        phases={"lookup": lookup},
        values={"lookup_seconds": lookup, "dns_answer_rrs": 2, "dns_rcode": 0},
    )


@dataclass
class ScriptedProbes:
    """The probe table for the Service: one scripted result per kind, counted per target."""

    calls: dict[str, int] = field(default_factory=dict)

    async def __call__(self, target: Target, settings: Any, ctx: ProbeContext) -> ProbeResult:
        """Answer one probe run of ``target``."""
        n = self.calls.get(target.id, 0)
        self.calls[target.id] = n + 1
        if target.probe == "icmp":
            return icmp(n, reachable=target.entity != DOWN_DEVICE)
        if target.probe == "http":
            tls = target.address.startswith("https://")
            return http(n, tls=tls, flaky=target.entity == FLAKY_APP)
        if target.probe == "tcp":
            return tcp(n)
        return dns(n)

    def table(self) -> dict[str, Any]:
        """kind -> probe, for ``Service(probes=...)``."""
        return {kind: self for kind in ("icmp", "tcp", "http", "dns")}


@dataclass
class Notifier:
    """What the notifier shows /metrics: messages by (team, channel, result), queue length,
    outbox depth and oldest age per (team, channel)."""

    stats: Mapping[tuple[str, str, str], int]
    queue_length: int = 0
    outbox_stats: Mapping[tuple[str, str], tuple[int, float]] = field(default_factory=dict)


NOTIFIER = Notifier(
    {
        ("it-dukcapil", "telegram", "sent"): 3,
        ("it-dukcapil", "telegram", "failed"): 1,
        ("kominfo", "email", "sent"): 2,
    },
    outbox_stats={("it-dukcapil", "telegram"): (1, 42.0)},
)


async def _start(probes: ScriptedProbes) -> tuple[Service, WebServer, str]:
    """The Service and its web endpoints, as ``mpp-monitor run`` puts them together."""
    plan = load_plan(CONFIG_NAME, INVENTORY)
    service = Service(probes=probes.table(), down_after=plan.down_after, up_after=plan.up_after)
    service.notifier = NOTIFIER
    await service.apply_plan(plan)
    reloader = Reloader(service, CONFIG_NAME, lambda path: load_plan(path, INVENTORY))
    server = WebServer(make_app(service, reloader))
    base = await server.start("127.0.0.1", 0)
    return service, server, base.rstrip("/") + "/metrics"


async def _stop(service: Service, server: WebServer) -> None:
    await server.stop()
    await service.stop()


@contextlib.contextmanager
def serve_monitor() -> Iterator[str]:
    """Run the Service on its own event loop thread; yield its /metrics URL."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="dashboards-monitor", daemon=True)
    thread.start()
    try:
        started = asyncio.run_coroutine_threadsafe(_start(ScriptedProbes()), loop)
        service, server, url = started.result(timeout=30)
        try:
            yield url
        finally:
            asyncio.run_coroutine_threadsafe(_stop(service, server), loop).result(timeout=30)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
