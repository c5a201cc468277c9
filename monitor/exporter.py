"""The /metrics exposition: a Collector over the state, and a fast text renderer.

Both produce the same bytes from one description of the samples (``_target_samples``,
``_entity_samples``, ``_small_families``):

* ``MonitorCollector`` yields fresh ``*MetricFamily`` objects per scrape (for tests with a
  fresh ``CollectorRegistry`` and ``get_sample_value``, or any registry);
* ``MetricsRenderer`` builds the text format itself: each series' label text is escaped
  once per plan, so a scrape only formats values and joins strings; the async variants
  yield to the event loop every few hundred targets (and stream large families in pieces)
  so probing stays on time while a large scrape is served.

``metrics_handler`` renders on the event loop but cooperatively: formatting yields every
``chunk`` targets and the body is streamed family by family, so no step holds the loop
for long (bench/metrics_render.py: longest hold about 5 ms at 50k series, 10 ms at 230k),
while a thread would fight the loop for the GIL for the whole render. Only gzip, which
releases the GIL, runs in a thread.

Labels are sorted by name in the output, as prometheus_client does. Families without
samples are left out. A target removed from the plan is no longer iterated, so its series
vanish at the next scrape.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import sys
import zlib
from collections.abc import (
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Iterator,
    Mapping,
)
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

from aiohttp import web
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    UnknownMetricFamily,
)
from prometheus_client.registry import Collector

from monitor import __version__
from monitor.plan import TARGET_LABELS, Plan
from monitor.state import LINK_STATES, STATUSES, EntityState, State, Status, TargetState

if TYPE_CHECKING:
    from monitor.scheduler import Scheduler

log = logging.getLogger(__name__)

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"


class NotifierStats(Protocol):
    """What the notifier exposes for /metrics."""

    @property
    def stats(self) -> Mapping[tuple[str, str, str], int]:
        """Messages by (team, channel, result)."""
        ...

    @property
    def queue_length(self) -> int:
        """Messages waiting."""
        ...


class MetricsSource(Protocol):
    """What the exporter reads (the Service implements it)."""

    @property
    def state(self) -> State: ...

    @property
    def scheduler(self) -> Scheduler: ...

    @property
    def reload_successful(self) -> bool: ...

    @property
    def reload_success_timestamp(self) -> float | None: ...


NotifierSource = Callable[[], NotifierStats | None]


@dataclass(frozen=True, slots=True)
class Family:
    """One metric family: exposition name (counters end in _total), type, help, extra label."""

    name: str
    type: str
    help: str
    extra: str = ""

    @property
    def header(self) -> str:
        """Return the # HELP and # TYPE lines."""
        doc = self.help.replace("\\", r"\\").replace("\n", r"\n")
        return f"# HELP {self.name} {doc}\n# TYPE {self.name} {self.type}\n"


def _g(name: str, doc: str, extra: str = "") -> Family:
    return Family(name, "gauge", doc, extra)


def _c(name: str, doc: str, extra: str = "") -> Family:
    return Family(name, "counter", doc, extra)


def _u(name: str, doc: str, extra: str = "") -> Family:
    # Gauges keeping Grafana SM's `_count` names (no histogram of that name exists to
    # collide with): promtool's "_count suffix" lint skips untyped families, and
    # Prometheus stores untyped samples exactly like gauges.
    return Family(name, "untyped", doc, extra)


# -- per-target families (order = output order) ---------------------------------------------
TARGET_FAMILIES: Final[tuple[Family, ...]] = (
    _g("probe_success", "Whether the latest run succeeded (1) or failed (0)."),
    _g("probe_duration_seconds", "Duration of the latest run in seconds."),
    _g("probe_ip_protocol", "IP family used by the latest run (4 or 6)."),
    _g("probe_http_duration_seconds", "Seconds spent in each HTTP phase.", "phase"),
    _g("probe_http_status_code", "HTTP status code of the final response (0: none)."),
    _g("probe_http_version", "HTTP version of the final response."),
    _g("probe_http_content_length", "Length of the final response body in bytes."),
    _g("probe_http_redirects", "Redirects followed."),
    _g("probe_ssl_earliest_cert_expiry", "Earliest expiry of the peer certificates (unix s)."),
    _g("probe_tls_version_info", "TLS version negotiated.", "version"),
    _g("probe_icmp_duration_seconds", "Seconds spent in each ICMP phase (rtt: mean).", "phase"),
    _u("probe_icmp_packets_sent_count", "Echo requests sent in the latest run."),
    _u("probe_icmp_packets_received_count", "Echo replies received in the latest run."),
    _g("probe_icmp_packet_loss_ratio", "Share of echoes lost in the latest run (0..1)."),
    _g("probe_icmp_duration_rtt_min_seconds", "Minimum round-trip time of the latest run."),
    _g("probe_icmp_duration_rtt_median_seconds", "Median round-trip time of the latest run."),
    _g("probe_icmp_duration_rtt_mean_seconds", "Mean round-trip time of the latest run."),
    _g("probe_icmp_duration_rtt_max_seconds", "Maximum round-trip time of the latest run."),
    _g("probe_icmp_duration_rtt_stddev_seconds", "Round-trip time standard deviation (jitter)."),
    _g("probe_dns_lookup_time_seconds", "Seconds the DNS lookup took."),
    _g("probe_dns_answer_rrs", "Resource records in the answer section."),
    _g("probe_dns_rcode_info", "DNS response code of the latest run.", "rcode"),
    _g("probe_tcp_duration_seconds", "Seconds spent in each TCP phase.", "phase"),
    _c("mpp_probe_runs_total", "Probe runs since the service started."),
    _c("mpp_probe_successes_total", "Successful probe runs since the service started."),
    _c("mpp_probe_failures_total", "Failed probe runs since the service started.", "reason"),
    _g("mpp_probe_last_run_timestamp_seconds", "Wall time of the latest result (unix s)."),
    _g("mpp_target_status", "Target status: 1 for the current status.", "status"),
)
(
    T_SUCCESS,
    T_DURATION,
    T_IP,
    T_HTTP_PHASE,
    T_HTTP_STATUS,
    T_HTTP_VERSION,
    T_HTTP_LENGTH,
    T_HTTP_REDIRECTS,
    T_SSL_EXPIRY,
    T_TLS_VERSION,
    T_ICMP_PHASE,
    T_ICMP_SENT,
    T_ICMP_RECEIVED,
    T_ICMP_LOSS,
    T_RTT_MIN,
    T_RTT_MEDIAN,
    T_RTT_MEAN,
    T_RTT_MAX,
    T_RTT_STDDEV,
    T_DNS_LOOKUP,
    T_DNS_ANSWERS,
    T_DNS_RCODE,
    T_TCP_PHASE,
    T_RUNS,
    T_SUCCESSES,
    T_FAILURES,
    T_LAST_RUN,
    T_STATUS,
) = range(len(TARGET_FAMILIES))

HTTP_PHASES: Final = ("resolve", "connect", "tls", "processing", "transfer")
ICMP_PHASES: Final = ("resolve", "setup", "rtt")
TCP_PHASES: Final = ("resolve", "connect", "tls", "exchange")
_HTTP_VALUES: Final = (
    ("http_version", T_HTTP_VERSION),
    ("content_length", T_HTTP_LENGTH),
    ("redirects", T_HTTP_REDIRECTS),
)
_ICMP_VALUES: Final = (
    ("packets_sent", T_ICMP_SENT),
    ("packets_received", T_ICMP_RECEIVED),
    ("loss_ratio", T_ICMP_LOSS),
    ("rtt_min_seconds", T_RTT_MIN),
    ("rtt_median_seconds", T_RTT_MEDIAN),
    ("rtt_mean_seconds", T_RTT_MEAN),
    ("rtt_max_seconds", T_RTT_MAX),
    ("rtt_stddev_seconds", T_RTT_STDDEV),
)
_RCODES: Final = {
    0: "NOERROR",
    1: "FORMERR",
    2: "SERVFAIL",
    3: "NXDOMAIN",
    4: "NOTIMP",
    5: "REFUSED",
    6: "YXDOMAIN",
    7: "YXRRSET",
    8: "NXRRSET",
    9: "NOTAUTH",
    10: "NOTZONE",
}

# -- per-entity families ----------------------------------------------------------------------
ENTITY_FAMILIES: Final[tuple[Family, ...]] = (
    _g("mpp_entity_status", "Entity status after hysteresis and dependencies.", "status"),
    _g("mpp_entity_fault_owner", "1 while down/unreachable: the team that must act.", "owner_team"),
    _g("mpp_link_state", "Link state: 1 for the current state.", "state"),
    _g("mpp_link_loss_ratio", "Mean packet loss over the link's anchors (0..1)."),
    _g("mpp_link_rtt_median_seconds", "Median round-trip time over the link's anchors."),
)
E_STATUS, E_OWNER, E_LINK_STATE, E_LINK_LOSS, E_LINK_RTT = range(len(ENTITY_FAMILIES))
ENTITY_LABELS: Final = ("entity", "site", "team", "kind", "agency", "counter", "device", "link")

# -- roll-ups and the service itself ----------------------------------------------------------
F_INTERNET = _g("mpp_site_internet_up", "1 if any link of the site is up or degraded.")
# Not `mpp_counter_can_serve`: promtool rejects a metric type word ("counter") in a name,
# untyped or not. The counter is in the `counter` label.
F_CAN_SERVE = _g("mpp_can_serve", "1 if the counter's devices and critical applications serve.")
F_DESK_STATUS = _g(
    "mpp_desk_status",
    "Counter (desk) status: down = its agency's fault, unreachable = a parent's.",
    "status",
)
F_DESK_OWNER = _g("mpp_desk_fault_owner", "1 while a counter cannot serve: who must act.")
F_SERVICE_OPEN = _g("mpp_site_service_open", "1 while the site is inside its service hours.")
F_BUILD = _g("mpp_build_info", "Build information.")
F_RELOAD_OK = _g("mpp_config_last_reload_successful", "1 if the last configuration load worked.")
F_RELOAD_TS = _g(
    "mpp_config_last_reload_success_timestamp_seconds",
    "Wall time of the last successful configuration load (unix s).",
)
F_TARGETS = _g("mpp_targets", "Targets configured.")
F_IN_FLIGHT = _g("mpp_probes_in_flight", "Probe runs executing now.")
F_LATENESS = Family(
    "mpp_scheduler_start_lateness_seconds",
    "histogram",
    "Seconds between a run's planned and actual start.",
)
F_SKIPPED = _c(
    "mpp_scheduler_runs_skipped_total",
    "Runs skipped: the previous run was still going, or the start was missed entirely.",
)
F_NOTIFIER_MESSAGES = _c("mpp_notifier_messages_total", "Notification messages by result.")
F_NOTIFIER_QUEUE = _g("mpp_notifier_queue_length", "Notification messages waiting.")

Pairs = tuple[tuple[str, str], ...]
Sample = tuple[str, Pairs, float]  # (sample name, label pairs, value)

_INF: Final = math.inf


def fmt_value(d: float) -> str:
    """Format a sample value exactly as prometheus_client's floatToGoString does."""
    d = float(d)
    if -1e6 < d < 1e6:  # the common case: repr() is already Go's format (NaN is not in range)
        return repr(d)
    if d == _INF:
        return "+Inf"
    if d == -_INF:
        return "-Inf"
    if d != d:
        return "NaN"
    s = repr(d)
    if d > 0:
        dot = s.find(".")
        # Go switches to exponents sooner than Python.
        if dot > 6:
            mantissa = f"{s[0]}.{s[1:dot]}{s[dot + 1 :]}".rstrip("0.")
            return f"{mantissa}e+{dot - 1:02d}"
    return s


def escape_label(v: str) -> str:
    """Escape a label value for the text format."""
    if "\\" in v or "\n" in v or '"' in v:
        return v.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return v


def _pairs_text(pairs: Iterable[tuple[str, str]]) -> str:
    return ",".join(f'{k}="{escape_label(v)}"' for k, v in sorted(pairs))


def _line(name: str, pairs: Pairs, value: float) -> str:
    if pairs:
        return f"{name}{{{_pairs_text(pairs)}}} {fmt_value(value)}\n"
    return f"{name} {fmt_value(value)}\n"


class LabelText:
    """One series' label set, escaped once: plain ``{...}`` and split around an extra label."""

    __slots__ = ("_pairs", "_split", "plain")

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._pairs = sorted(pairs)
        self.plain = "{" + _pairs_text(self._pairs) + "}"
        self._split: dict[str, tuple[str, str]] = {}

    def split(self, extra: str) -> tuple[str, str]:
        """Return (text before, text after) the ``extra="..."`` label in sorted position."""
        got = self._split.get(extra)
        if got is None:
            before = [p for p in self._pairs if p[0] < extra]
            after = [p for p in self._pairs if p[0] > extra]
            pre = "{" + _pairs_text(before) + ("," if before else "")
            post = ("," + _pairs_text(after) if after else "") + "}"
            got = self._split[extra] = (pre, post)
        return got

    def line(self, fam: Family, extra_value: str, value: float) -> str:
        """Return one sample line of this series in the family."""
        if fam.extra:
            pre, post = self.split(fam.extra)
            return (
                f'{fam.name}{pre}{fam.extra}="{escape_label(extra_value)}"{post} '
                f"{fmt_value(value)}\n"
            )
        return f"{fam.name}{self.plain} {fmt_value(value)}\n"


def target_label_pairs(ts: TargetState) -> list[tuple[str, str]]:
    """Return the target series' base labels (target, probe and TARGET_LABELS)."""
    t = ts.target
    return [("target", t.id), ("probe", t.probe)] + [
        (k, t.labels.get(k, "")) for k in TARGET_LABELS
    ]


def entity_label_pairs(es: EntityState) -> list[tuple[str, str]]:
    """Return the entity series' labels (ENTITY_LABELS)."""
    e = es.entity
    own = {"entity": e.id, "site": e.site, "team": e.team, "kind": e.kind}
    return [(k, own[k] if k in own else e.labels.get(k, "")) for k in ENTITY_LABELS]


TargetSample = tuple[int, str, float]  # (family index, extra label value, value)


def _target_samples(ts: TargetState, status: Status | None) -> list[TargetSample]:
    """Return every sample of one target, in output order within each family.

    ``status=None`` leaves out the ``mpp_target_status`` samples (the renderer caches them).
    """
    out: list[TargetSample] = []
    add = out.append
    r = ts.result
    if r is not None:
        v = r.values
        kind = ts.target.probe
        add((T_SUCCESS, "", 1.0 if r.success else 0.0))
        add((T_DURATION, "", r.duration_seconds))
        if "ip_protocol" in v:
            add((T_IP, "", v["ip_protocol"]))
        if kind == "http":
            phases = r.phases
            for ph in HTTP_PHASES:
                add((T_HTTP_PHASE, ph, phases.get(ph, 0.0)))
            add((T_HTTP_STATUS, "", v.get("status_code", 0.0)))
            for key, fi in _HTTP_VALUES:
                if key in v:
                    add((fi, "", v[key]))
        if "ssl_earliest_cert_expiry" in v:
            add((T_SSL_EXPIRY, "", v["ssl_earliest_cert_expiry"]))
        tls = r.info.get("tls_version")
        if tls:
            add((T_TLS_VERSION, tls, 1.0))
        if kind == "icmp":
            phases = r.phases
            for ph in ICMP_PHASES:
                add((T_ICMP_PHASE, ph, phases.get(ph, 0.0)))
            for key, fi in _ICMP_VALUES:
                if key in v:
                    add((fi, "", v[key]))
        elif kind == "dns":
            lookup = v.get("lookup_seconds", r.phases.get("lookup"))
            if lookup is not None:
                add((T_DNS_LOOKUP, "", lookup))
            if "dns_answer_rrs" in v:
                add((T_DNS_ANSWERS, "", v["dns_answer_rrs"]))
            rcode = r.info.get("rcode") or r.info.get("dns_rcode")
            if not rcode and "dns_rcode" in v:
                code = int(v["dns_rcode"])
                rcode = _RCODES.get(code, str(code))
            if rcode:
                add((T_DNS_RCODE, rcode, 1.0))
        elif kind == "tcp":
            phases = r.phases
            for ph in TCP_PHASES:
                add((T_TCP_PHASE, ph, phases.get(ph, 0.0)))
    add((T_RUNS, "", ts.runs))
    add((T_SUCCESSES, "", ts.successes))
    for reason, n in ts.failures.items():
        add((T_FAILURES, reason, n))
    if ts.runs:
        add((T_LAST_RUN, "", ts.wall))
    if status is not None:
        for s in STATUSES:
            add((T_STATUS, s, 1.0 if s == status else 0.0))
    return out


def _entity_samples(es: EntityState) -> list[TargetSample]:
    """Return every sample of one entity (family indexes into ENTITY_FAMILIES)."""
    out: list[TargetSample] = []
    for s in STATUSES:
        out.append((E_STATUS, s, 1.0 if s == es.status else 0.0))
    if es.status in ("down", "unreachable") and es.owner:
        out.append((E_OWNER, es.owner, 1.0))
    if es.entity.kind == "link":
        state = es.link_state
        for ls in LINK_STATES:
            out.append((E_LINK_STATE, ls, 1.0 if ls == state else 0.0))
        if es.loss_ratio is not None:
            out.append((E_LINK_LOSS, "", es.loss_ratio))
        if es.rtt_median is not None:
            out.append((E_LINK_RTT, "", es.rtt_median))
    return out


def _counter_label(state: State, devices: tuple[str, ...], number: int) -> str:
    """Return the ``counter`` label value its devices carry (so joins work), else the number."""
    for d in devices:
        try:
            value = state.entity_state(d).entity.labels.get("counter", "")
        except KeyError:
            continue
        if value:
            return value
    return str(number)


def _small_families(
    source: MetricsSource, notifier: NotifierStats | None
) -> list[tuple[Family, list[Sample]]]:
    """Return the roll-up and service families with their samples."""
    state = source.state
    sched = source.scheduler
    plan = state.plan
    out: list[tuple[Family, list[Sample]]] = []
    internet: list[Sample] = []
    for site in state.sites():
        up = state.site_internet_up(site)
        if up is not None:
            internet.append((F_INTERNET.name, (("site", site),), 1.0 if up else 0.0))
    out.append((F_INTERNET, internet))
    serve: list[Sample] = []
    desks: list[Sample] = []
    owners: list[Sample] = []
    for c in plan.counters if plan else ():
        can, _ = state.counter_can_serve(c)
        pairs = (
            ("site", c.site),
            ("counter", _counter_label(state, c.devices, c.number)),
            ("agency", c.agency),
            ("team", c.team),
        )
        status, owner = state.counter_status(c)
        for st in STATUSES:
            desks.append((F_DESK_STATUS.name, (*pairs, ("status", st)), float(st == status)))
        if status in ("down", "unreachable") and owner:
            owners.append((F_DESK_OWNER.name, (*pairs, ("owner_team", owner)), 1.0))
        if can is None:
            continue
        serve.append((F_CAN_SERVE.name, pairs, 1.0 if can else 0.0))
    out.append((F_CAN_SERVE, serve))
    out.append((F_DESK_STATUS, desks))
    out.append((F_DESK_OWNER, owners))
    sites = plan.sites if plan is not None else ()
    if sites:
        from monitor.state.calendar import is_service_time

        now = dt.datetime.now(dt.UTC)
        out.append(
            (
                F_SERVICE_OPEN,
                [
                    (F_SERVICE_OPEN.name, (("site", site.id),), float(is_service_time(site, now)))
                    for site in sites
                ],
            )
        )
    python = ".".join(str(x) for x in sys.version_info[:3])
    out.append((F_BUILD, [(F_BUILD.name, (("version", __version__), ("python", python)), 1.0)]))
    out.append((F_RELOAD_OK, [(F_RELOAD_OK.name, (), 1.0 if source.reload_successful else 0.0)]))
    ts = source.reload_success_timestamp
    out.append((F_RELOAD_TS, [] if ts is None else [(F_RELOAD_TS.name, (), ts)]))
    counts: dict[tuple[str, str], int] = {}
    for t in plan.targets if plan else ():
        key = (t.labels.get("site", ""), t.probe)
        counts[key] = counts.get(key, 0) + 1
    out.append(
        (
            F_TARGETS,
            [
                (F_TARGETS.name, (("site", s), ("probe", p)), float(n))
                for (s, p), n in counts.items()
            ],
        )
    )
    out.append((F_IN_FLIGHT, [(F_IN_FLIGHT.name, (), float(sched.in_flight))]))
    h = sched.lateness
    lat: list[Sample] = [
        (F_LATENESS.name + "_bucket", (("le", fmt_value(b)),), float(n)) for b, n in h.cumulative()
    ]
    lat.append((F_LATENESS.name + "_count", (), float(h.count)))
    lat.append((F_LATENESS.name + "_sum", (), h.sum))
    out.append((F_LATENESS, lat))
    out.append((F_SKIPPED, [(F_SKIPPED.name, (), float(sched.skipped))]))
    if notifier is not None:
        msgs: list[Sample] = [
            (F_NOTIFIER_MESSAGES.name, (("team", t), ("channel", ch), ("result", res)), float(n))
            for (t, ch, res), n in notifier.stats.items()
        ]
        out.append((F_NOTIFIER_MESSAGES, msgs))
        out.append((F_NOTIFIER_QUEUE, [(F_NOTIFIER_QUEUE.name, (), float(notifier.queue_length))]))
    return out


class MonitorCollector(Collector):
    """A prometheus_client Collector over the runtime state (fresh families per scrape)."""

    def __init__(self, source: MetricsSource, notifier: NotifierSource | None = None) -> None:
        self._source = source
        self._notifier = notifier

    def collect(self) -> Iterator[Metric]:
        """Yield every family that has samples."""
        state = self._source.state
        state.refresh()
        base_names = ["target", "probe", *TARGET_LABELS]
        fams: list[Metric] = [_family(f, base_names) for f in TARGET_FAMILIES]
        for ts in state.target_states():
            values = [v for _, v in target_label_pairs(ts)]
            for fi, extra, value in _target_samples(ts, state.target_status(ts)):
                _add(fams[fi], TARGET_FAMILIES[fi], values, extra, value)
        yield from (f for f in fams if f.samples)
        efams: list[Metric] = [_family(f, list(ENTITY_LABELS)) for f in ENTITY_FAMILIES]
        for es in state.entity_states():
            values = [v for _, v in entity_label_pairs(es)]
            for fi, extra, value in _entity_samples(es):
                _add(efams[fi], ENTITY_FAMILIES[fi], values, extra, value)
        yield from (f for f in efams if f.samples)
        notifier = self._notifier() if self._notifier else None
        for fam, samples in _small_families(self._source, notifier):
            if not samples:
                continue
            if fam.type == "histogram":
                h = self._source.scheduler.lateness
                hist = HistogramMetricFamily(fam.name, fam.help, labels=[])
                hist.add_metric(
                    [], [(fmt_value(b), float(n)) for b, n in h.cumulative()], sum_value=h.sum
                )
                yield hist
                continue
            names = [k for k, _ in samples[0][1]]
            m = _family(fam, names, extra=False)
            for _, pairs, value in samples:
                m.add_metric([v for _, v in pairs], value)  # type: ignore[attr-defined]
            yield m


def _family(fam: Family, names: list[str], *, extra: bool = True) -> Metric:
    labels = [*names, fam.extra] if extra and fam.extra else names
    if fam.type == "counter":
        return CounterMetricFamily(fam.name, fam.help, labels=labels)
    if fam.type == "untyped":
        return UnknownMetricFamily(fam.name, fam.help, labels=labels)
    return GaugeMetricFamily(fam.name, fam.help, labels=labels)


def _add(m: Metric, fam: Family, values: list[str], extra: str, value: float) -> None:
    labels = [*values, extra] if fam.extra else values
    m.add_metric(labels, value)  # type: ignore[attr-defined]


_PIECE_LINES: Final = 4096  # lines per piece of a rendering


class MetricsRenderer:
    """Renders the exposition text itself (see the module docstring).

    Label text is escaped once per plan per series; the five ``mpp_target_status`` lines
    of a target are kept until its status changes. Everything else is formatted per scrape
    (caching whole lines would hold as much memory as the output, for little gain when
    probes run as often as Prometheus scrapes).
    """

    def __init__(
        self,
        source: MetricsSource,
        notifier: NotifierSource | None = None,
        *,
        chunk: int = 250,
    ) -> None:
        self._source = source
        self._notifier = notifier
        self.chunk = chunk  # targets/entities formatted between two yields to the loop
        self._plan: Plan | None = None
        self._tlabels: dict[str, LabelText] = {}
        self._elabels: dict[str, LabelText] = {}
        self._status_text: dict[str, tuple[Status, str]] = {}
        self._pool: ThreadPoolExecutor | None = None

    def _reset_if_new_plan(self) -> None:
        plan = self._source.state.plan
        if plan is not self._plan:
            # New dicts: a render in progress keeps the ones it started with.
            self._plan = plan
            self._tlabels = {}
            self._elabels = {}
            self._status_text = {}

    async def warm(self) -> None:
        """Escape every series' label text ahead of the first scrape, in small slices."""
        state = self._source.state
        self._reset_if_new_plan()
        tlabels, elabels = self._tlabels, self._elabels
        for n, ts in enumerate(list(state.target_states()), 1):
            if ts.target.id not in tlabels:
                tlabels[ts.target.id] = LabelText(target_label_pairs(ts))
            if n % self.chunk == 0:
                await asyncio.sleep(0)
        for n, es in enumerate(list(state.entity_states()), 1):
            if es.entity.id not in elabels:
                elabels[es.entity.id] = LabelText(entity_label_pairs(es))
            if n % self.chunk == 0:
                await asyncio.sleep(0)

    def _build(self) -> Generator[None, None, list[tuple[str, list[str]]]]:
        """Format every sample, yielding between chunks; return (header, lines) per family."""
        state = self._source.state
        state.refresh()
        self._reset_if_new_plan()
        tlabels, elabels, status_text = self._tlabels, self._elabels, self._status_text
        chunk = max(1, self.chunk)
        tcols: list[list[str]] = [[] for _ in TARGET_FAMILIES]
        tnames = [f.name for f in TARGET_FAMILIES]
        textras = [f.extra for f in TARGET_FAMILIES]
        target_status = state.target_status
        status_fam = TARGET_FAMILIES[T_STATUS]
        n = 0
        for ts in list(state.target_states()):
            tid = ts.target.id
            lbl = tlabels.get(tid)
            if lbl is None:
                lbl = tlabels[tid] = LabelText(target_label_pairs(ts))
            plain = lbl.plain
            for fi, extra, value in _target_samples(ts, None):
                ename = textras[fi]
                if ename:
                    pre, post = lbl.split(ename)
                    tcols[fi].append(
                        f'{tnames[fi]}{pre}{ename}="{escape_label(extra)}"{post} '
                        f"{fmt_value(value)}\n"
                    )
                else:
                    tcols[fi].append(f"{tnames[fi]}{plain} {fmt_value(value)}\n")
            status = target_status(ts)
            cached = status_text.get(tid)
            if cached is None or cached[0] != status:
                text = "".join(
                    lbl.line(status_fam, st, 1.0 if st == status else 0.0) for st in STATUSES
                )
                cached = status_text[tid] = (status, text)
            tcols[T_STATUS].append(cached[1])
            n += 1
            if n % chunk == 0:
                yield
        ecols: list[list[str]] = [[] for _ in ENTITY_FAMILIES]
        for es in list(state.entity_states()):
            eid = es.entity.id
            lbl = elabels.get(eid)
            if lbl is None:
                lbl = elabels[eid] = LabelText(entity_label_pairs(es))
            for fi, extra, value in _entity_samples(es):
                ecols[fi].append(lbl.line(ENTITY_FAMILIES[fi], extra, value))
            n += 1
            if n % chunk == 0:
                yield
        out: list[tuple[str, list[str]]] = []
        for fams, cols in ((TARGET_FAMILIES, tcols), (ENTITY_FAMILIES, ecols)):
            out.extend((fam.header, col) for fam, col in zip(fams, cols, strict=True) if col)
        notifier = self._notifier() if self._notifier else None
        for fam, samples in _small_families(self._source, notifier):
            if samples:
                out.append((fam.header, [_line(name, p, v) for name, p, v in samples]))
        return out

    @staticmethod
    def _join(families: list[tuple[str, list[str]]]) -> bytes:
        parts: list[str] = []
        for header, lines in families:
            parts.append(header)
            parts.extend(lines)
        return "".join(parts).encode()

    def render(self) -> bytes:
        """Render the whole exposition at once (no event loop needed)."""
        steps = self._build()
        while True:
            try:
                next(steps)
            except StopIteration as stop:
                return self._join(stop.value)

    async def _build_async(self) -> list[tuple[str, list[str]]]:
        steps = self._build()
        while True:
            try:
                next(steps)
            except StopIteration as stop:
                families: list[tuple[str, list[str]]] = stop.value
                return families
            await asyncio.sleep(0)

    async def render_async(self) -> bytes:
        """Render, letting the event loop run between chunks of series."""
        return b"".join(await self.render_pieces())

    async def render_pieces(self) -> list[bytes]:
        """Render as pieces of a few thousand lines, yielding to the loop between pieces
        (joining and encoding 50 MB at once would hold the loop for a tenth of a second)."""
        pieces: list[bytes] = []
        for header, lines in await self._build_async():
            pieces.append(header.encode())
            for i in range(0, len(lines), _PIECE_LINES):
                pieces.append("".join(lines[i : i + _PIECE_LINES]).encode())
                await asyncio.sleep(0)
        return pieces

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="metrics-gzip")
        return self._pool

    async def gzip(self, pieces: list[bytes]) -> list[bytes]:
        """Compress pieces off the event loop (zlib releases the GIL): one gzip stream."""
        loop = asyncio.get_running_loop()
        comp = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # gzip container, fast
        out = [await loop.run_in_executor(self._executor(), comp.compress, p) for p in pieces]
        out.append(comp.flush())
        return [p for p in out if p]

    def close(self) -> None:
        """Release the compression thread."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


class _HasRenderer(Protocol):
    @property
    def renderer(self) -> MetricsRenderer: ...


class MetricsHandler:
    """The aiohttp handler serving the service's /metrics (gzip when asked).

    Readers that stall must neither block other scrapes nor multiply memory: a scrape that
    arrives while others are still being sent shares their rendering (and its gzip) if it is
    at most ``max_age`` seconds old, each response sends that shared text piece by piece (no copy
    per client), and a response not sent within ``deadline`` seconds is abandoned and its
    connection closed. So stalled readers hold at most ``deadline / max_age`` renderings.
    """

    def __init__(self, service: _HasRenderer, *, deadline: float = 30.0, max_age: float = 1.0):
        self.service = service
        self.deadline = deadline
        self.max_age = max_age
        self.in_progress = 0  # responses being sent now
        self.renders = 0  # renderings made (shared by concurrent scrapes)
        self._lock = asyncio.Lock()
        self._at = -math.inf
        self._plain: list[bytes] = []
        self._gzip: list[bytes] | None = None

    async def _body(self, gzipped: bool) -> list[bytes]:
        loop = asyncio.get_running_loop()
        async with self._lock:
            # Share a rendering only with responses still being sent (readers that stall),
            # and only while it is young: a scrape after the others finished gets fresh data.
            shared = self.in_progress > 1 and loop.time() - self._at <= self.max_age
            if not shared:
                self._plain = await self.service.renderer.render_pieces()
                self._gzip = None
                self._at = loop.time()
                self.renders += 1
            if not gzipped:
                return self._plain  # the shared object itself: no copy per client
            if self._gzip is None:
                self._gzip = await self.service.renderer.gzip(self._plain)
            return self._gzip

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Serve one scrape."""
        gzipped = "gzip" in request.headers.get("Accept-Encoding", "")
        resp = web.StreamResponse(headers={"Content-Type": CONTENT_TYPE})
        if gzipped:
            resp.headers["Content-Encoding"] = "gzip"
        self.in_progress += 1
        try:
            async with asyncio.timeout(self.deadline):
                pieces = await self._body(gzipped)
                resp.content_length = sum(len(p) for p in pieces)
                await resp.prepare(request)
                for piece in pieces:
                    await resp.write(piece)
                await resp.write_eof()
        except ConnectionError:
            # The scraper went away mid-body (timeout, restart): nothing to report. A reset
            # while writing raises ConnectionResetError; leaving while we wait for it to read
            # (drain) raises a plain ConnectionError("Connection lost").
            log.debug("/metrics client disconnected during the response")
        except TimeoutError:
            log.warning("/metrics: client did not read in %gs: connection closed", self.deadline)
            if request.transport is not None:
                request.transport.abort()
        finally:
            self.in_progress -= 1
        return resp


def metrics_handler(
    service: _HasRenderer, **kwargs: float
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Return an aiohttp handler for a service's /metrics (see MetricsHandler)."""
    return MetricsHandler(service, **kwargs).handle
