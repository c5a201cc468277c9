"""Synthetic /metrics for a small MPP, following docs/metrics.md: a stand-in for mpp-monitor.

The site ``paser`` has 2 internet links (2 ICMP anchors, a DNS and an HTTP check each), 1
infrastructure switch, 3 counters of 2 agencies with 4 devices (one also checked over TCP),
2 applications (one of them flaky: every third run times out) and one fault: the PC of
counter 2 is down, so counter 2 cannot serve and its agency's team owns the fault.

Every scrape advances the simulated clock by one probe run, so counters grow and ``rate``
or ``increase`` have something to see. ``SyntheticMonitor`` is a prometheus_client
Collector, rendered like the real exporter would be; ``serve_metrics`` serves any renderer
on 127.0.0.1 (port 0) from a background thread.

To prove the dashboards against the running service instead, point the Prometheus scrape
config at the service's /metrics and drop this module (see test_queries.metrics_source).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

SITE = "paser"
TARGET_LABELS = ("site", "team", "kind", "entity", "agency", "counter", "device", "link")
STATUSES = ("up", "down", "unreachable", "maintenance", "unknown")
LINK_STATES = ("up", "degraded", "down")


@dataclass(frozen=True)
class Entity:
    """A synthetic entity and its checks (check name, probe kind)."""

    kind: str
    name: str
    team: str
    checks: tuple[tuple[str, str], ...]
    agency: str = ""
    counter: str = ""
    device: str = ""
    link: str = ""

    @property
    def id(self) -> str:
        """Entity id as in monitor/plan.py: <site>/<kind>/<name>."""
        return f"{SITE}/{self.kind}/{self.name}"

    def labels(self) -> dict[str, str]:
        """The entity label set (every key present, empty where it does not apply)."""
        return {
            "site": SITE,
            "team": self.team,
            "kind": self.kind,
            "entity": self.id,
            "agency": self.agency,
            "counter": self.counter,
            "device": self.device,
            "link": self.link,
        }


LINK_CHECKS = (("anchor-1", "icmp"), ("anchor-2", "icmp"), ("dns", "dns"), ("http", "http"))

ENTITIES: tuple[Entity, ...] = (
    Entity("link", "isp-telkom", "kominfo", LINK_CHECKS, link="isp-telkom"),
    Entity("link", "isp-lintasarta", "kominfo", LINK_CHECKS, link="isp-lintasarta"),
    Entity("infra", "sw-lantai1", "kominfo", (("icmp", "icmp"),)),
    Entity(
        "device", "gerai-01-pc", "dukcapil", (("icmp", "icmp"),), "dukcapil", "1", "gerai-01-pc"
    ),
    Entity(
        "device",
        "gerai-01-printer",
        "dukcapil",
        (("icmp", "icmp"),),
        "dukcapil",
        "1",
        "gerai-01-printer",
    ),
    Entity(
        "device", "gerai-02-pc", "dukcapil", (("icmp", "icmp"),), "dukcapil", "2", "gerai-02-pc"
    ),
    Entity(
        "device",
        "gerai-03-pc",
        "bpjs",
        (("icmp", "icmp"), ("rdp", "tcp")),
        "bpjs-kesehatan",
        "3",
        "gerai-03-pc",
    ),
    Entity("application", "siak", "dukcapil", (("https", "http"),), agency="dukcapil"),
    Entity("application", "vclaim", "bpjs", (("https", "http"),), agency="bpjs-kesehatan"),
)

# counter number -> (agency, team, device entity names)
COUNTERS: Mapping[str, tuple[str, str, tuple[str, ...]]] = {
    "1": ("dukcapil", "dukcapil", ("gerai-01-pc", "gerai-01-printer")),
    "2": ("dukcapil", "dukcapil", ("gerai-02-pc",)),
    "3": ("bpjs-kesehatan", "bpjs", ("gerai-03-pc",)),
}
AGENCY_APPS = {"dukcapil": "siak", "bpjs-kesehatan": "vclaim"}

# entity id -> (status, owner team); every other entity is up.
DEFAULT_FAULTS: Mapping[str, tuple[str, str]] = {f"{SITE}/device/gerai-02-pc": ("down", "dukcapil")}
FLAKY = f"{SITE}/application/vclaim"  # fails every third run (reason timeout), stays up
LATENESS_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1.0)


@dataclass(eq=False)  # hashable by identity: a registry keys collectors by them
class SyntheticMonitor:
    """A prometheus_client Collector producing the contract's metrics for the synthetic site."""

    faults: Mapping[str, tuple[str, str]] = field(default_factory=lambda: dict(DEFAULT_FAULTS))
    service_hours_open: bool = True
    runs: int = 0  # probe runs so far (one per scrape)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def render(self) -> bytes:
        """Advance one probe run and return the exposition text."""
        with self._lock:
            self.runs += 1
            registry = CollectorRegistry(auto_describe=False)
            registry.register(self)
            return generate_latest(registry)

    def collect(self) -> Iterable[Metric]:
        """Yield every metric family of docs/metrics.md."""
        fams: dict[str, Metric] = {}  # in order of first appearance
        gauges: dict[str, GaugeMetricFamily] = {}
        counters: dict[str, CounterMetricFamily] = {}

        def gauge(name: str, doc: str, labels: Mapping[str, str], value: float) -> None:
            fam = gauges.get(name)
            if fam is None:
                fam = fams[name] = gauges[name] = GaugeMetricFamily(name, doc, labels=list(labels))
            fam.add_metric(list(labels.values()), value)

        def counter(name: str, doc: str, labels: Mapping[str, str], value: float) -> None:
            fam = counters.get(name)
            if fam is None:
                fam = CounterMetricFamily(name, doc, labels=list(labels))
                fams[name] = counters[name] = fam
            fam.add_metric(list(labels.values()), value)

        n = self.runs
        now = time.time()
        for ent in ENTITIES:
            status, owner = self.faults.get(ent.id, ("up", ""))
            for check, probe in ent.checks:
                self._target(gauge, counter, ent, check, probe, status, n, now)
            el = ent.labels()
            for s in STATUSES:
                gauge(
                    "mpp_entity_status",
                    "Entity status (enum).",
                    {**el, "status": s},
                    1.0 if s == status else 0.0,
                )
            if status in ("down", "unreachable"):
                gauge(
                    "mpp_entity_fault_owner",
                    "Team that must act on the fault.",
                    {**el, "owner_team": owner},
                    1.0,
                )
            if ent.kind == "link":
                for s in LINK_STATES:
                    gauge(
                        "mpp_link_state",
                        "Link state (enum).",
                        {**el, "state": s},
                        1.0 if s == {"up": "up", "down": "down"}.get(status, "up") else 0.0,
                    )
                gauge("mpp_link_loss_ratio", "Link loss over its anchors.", el, 0.01 * (n % 3))
                gauge(
                    "mpp_link_rtt_median_seconds",
                    "Link median RTT over its anchors.",
                    el,
                    self._rtt(ent.id, n),
                )

        gauge(
            "mpp_site_internet_up",
            "1 if any link of the site is up or degraded.",
            {"site": SITE},
            1.0,
        )
        gauge(
            "mpp_site_service_open",
            "1 while the site is within its service hours.",
            {"site": SITE},
            1.0 if self.service_hours_open else 0.0,
        )
        for number, (agency, team, devices) in COUNTERS.items():
            ok = all(self.faults.get(f"{SITE}/device/{d}", ("up",))[0] == "up" for d in devices)
            app = f"{SITE}/application/{AGENCY_APPS[agency]}"
            ok = ok and self.faults.get(app, ("up",))[0] == "up"
            gauge(
                "mpp_can_serve",
                "1 if the counter can serve.",
                {"site": SITE, "counter": number, "agency": agency, "team": team},
                1.0 if ok else 0.0,
            )

        self._service(gauge, counter, fams, n, now)
        yield from fams.values()

    @staticmethod
    def _rtt(key: str, n: int) -> float:
        # A smooth wobble, different per target, so graphs have shape.
        return 0.02 + 0.01 * math.sin(n / 3 + (zlib.crc32(key.encode()) % 7))

    def _target(
        self,
        gauge: Callable[[str, str, Mapping[str, str], float], None],
        counter: Callable[[str, str, Mapping[str, str], float], None],
        ent: Entity,
        check: str,
        probe: str,
        status: str,
        n: int,
        now: float,
    ) -> None:
        target_id = f"{ent.id}/{check}"
        tl = {"target": target_id, "probe": probe, **ent.labels()}
        failing_now = status != "up" or (ent.id == FLAKY and n % 3 == 0)
        failures = n if status != "up" else (n // 3 + 2 if ent.id == FLAKY else 0)
        gauge("probe_success", "1 if the latest run succeeded.", tl, 0.0 if failing_now else 1.0)
        rtt = self._rtt(target_id, n)
        gauge("probe_duration_seconds", "Duration of the latest run.", tl, rtt * 3)
        gauge("probe_ip_protocol", "IP family used.", tl, 4.0)
        counter("mpp_probe_runs", "Runs since start.", tl, float(n + 10))
        counter("mpp_probe_successes", "Successful runs.", tl, float(n + 10 - failures))
        if failures:
            counter(
                "mpp_probe_failures",
                "Failed runs by reason.",
                {**tl, "reason": "timeout"},
                float(failures),
            )
        gauge(
            "mpp_probe_last_run_timestamp_seconds", "Wall time of the latest result.", tl, now - 0.5
        )
        for s in STATUSES:
            gauge(
                "mpp_target_status",
                "Target status (enum).",
                {**tl, "status": s},
                1.0 if s == status else 0.0,
            )

        if probe == "icmp":
            received = 0.0 if status != "up" else 3.0
            for phase, v in (("resolve", 0.0001), ("setup", 0.0002), ("rtt", rtt)):
                gauge("probe_icmp_duration_seconds", "ICMP phases.", {**tl, "phase": phase}, v)
            gauge("probe_icmp_packets_sent_count", "Echoes sent.", tl, 3.0)
            gauge("probe_icmp_packets_received_count", "Echoes received.", tl, received)
            gauge("probe_icmp_packet_loss_ratio", "Loss ratio.", tl, 1.0 - received / 3.0)
            if received:
                for stat, v in (
                    ("min", rtt * 0.8),
                    ("median", rtt),
                    ("mean", rtt * 1.05),
                    ("max", rtt * 1.6),
                    ("stddev", rtt * 0.2),
                ):
                    gauge(f"probe_icmp_duration_rtt_{stat}_seconds", f"RTT {stat}.", tl, v)
        elif probe == "http":
            for phase, f in (
                ("resolve", 0.05),
                ("connect", 0.15),
                ("tls", 0.3),
                ("processing", 0.4),
                ("transfer", 0.1),
            ):
                gauge(
                    "probe_http_duration_seconds",
                    "HTTP phases.",
                    {**tl, "phase": phase},
                    rtt * 3 * f,
                )
            gauge("probe_http_status_code", "HTTP status code.", tl, 0.0 if failing_now else 200.0)
            gauge("probe_http_version", "HTTP version.", tl, 1.1)
            gauge("probe_http_content_length", "Body length.", tl, 5120.0)
            gauge("probe_http_redirects", "Redirects followed.", tl, 0.0)
            gauge(
                "probe_ssl_earliest_cert_expiry",
                "Certificate expiry (unix seconds).",
                tl,
                now + 40 * 86400 + (zlib.crc32(target_id.encode()) % 5) * 86400,
            )
            gauge("probe_tls_version_info", "TLS version.", {**tl, "version": "TLS 1.3"}, 1.0)
        elif probe == "dns":
            gauge("probe_dns_lookup_time_seconds", "DNS lookup time.", tl, rtt / 2)
            gauge("probe_dns_answer_rrs", "Answer records.", tl, 2.0)
            gauge("probe_dns_rcode_info", "DNS rcode.", {**tl, "rcode": "NOERROR"}, 1.0)
        elif probe == "tcp":
            for phase, v in (("resolve", 0.0001), ("connect", rtt), ("exchange", rtt / 2)):
                gauge("probe_tcp_duration_seconds", "TCP phases.", {**tl, "phase": phase}, v)

    @staticmethod
    def _service(
        gauge: Callable[[str, str, Mapping[str, str], float], None],
        counter: Callable[[str, str, Mapping[str, str], float], None],
        fams: dict[str, Metric],
        n: int,
        now: float,
    ) -> None:
        gauge("mpp_build_info", "Build information.", {"version": "0.2.0", "python": "3.11.2"}, 1.0)
        gauge("mpp_config_last_reload_successful", "1 if the last reload succeeded.", {}, 1.0)
        gauge(
            "mpp_config_last_reload_success_timestamp_seconds",
            "Last successful reload.",
            {},
            now - 3600,
        )
        per_probe: dict[str, int] = {}
        for ent in ENTITIES:
            for _, probe in ent.checks:
                per_probe[probe] = per_probe.get(probe, 0) + 1
        for probe, count in sorted(per_probe.items()):
            gauge(
                "mpp_targets", "Targets configured.", {"site": SITE, "probe": probe}, float(count)
            )
        gauge("mpp_probes_in_flight", "Runs executing now.", {}, float(n % 4))
        # Lateness: every run lands in the 5-10 ms bucket, one in ten later.
        buckets = []
        for le in LATENESS_BUCKETS:
            count = 0 if le < 0.01 else (n * 9 if le < 0.1 else n * 10)
            buckets.append((str(le), float(count)))
        buckets.append(("+Inf", float(n * 10)))
        fams["mpp_scheduler_start_lateness_seconds"] = HistogramMetricFamily(
            "mpp_scheduler_start_lateness_seconds",
            "Actual minus planned start.",
            buckets=buckets,
            sum_value=n * 0.15,
        )
        counter(
            "mpp_scheduler_runs_skipped",
            "Runs skipped (previous still running).",
            {},
            float(n // 5),
        )
        for team, result, value in (("dukcapil", "sent", n // 2 + 1), ("kominfo", "failed", 1)):
            counter(
                "mpp_notifier_messages",
                "Notifier messages.",
                {"team": team, "channel": "telegram", "result": result},
                float(value),
            )
        gauge("mpp_notifier_queue_length", "Messages waiting.", {}, 0.0)


@contextlib.contextmanager
def serve_metrics(render: Callable[[], bytes], path: str = "/metrics") -> Iterator[str]:
    """Serve ``render()`` at http://127.0.0.1:<port>/metrics from a background thread."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, object] = {}

    async def handle(_request: web.Request) -> web.Response:
        return web.Response(body=render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def start() -> None:
        app = web.Application()
        app.router.add_get(path, handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        box["runner"] = runner
        box["port"] = runner.addresses[0][1]

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(start())
        except BaseException as exc:  # reported to the caller below
            box["error"] = exc
            ready.set()
            return
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="synthetic-metrics", daemon=True)
    thread.start()
    try:
        if not ready.wait(timeout=10) or "error" in box:
            raise RuntimeError(f"metrics server did not start: {box.get('error')!r}")
        yield f"http://127.0.0.1:{box['port']}{path}"
    finally:
        runner = box.get("runner")
        if isinstance(runner, web.AppRunner) and loop.is_running():
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        if loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        if not loop.is_running():
            loop.close()
