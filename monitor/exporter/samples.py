"""One description of the samples, read by both the collector and the text renderer."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Generator, Mapping
from typing import TYPE_CHECKING, Protocol, TypeVar

from monitor import __version__
from monitor.exporter.families import (
    E_LINK_LOSS,
    E_LINK_RTT,
    E_LINK_STATE,
    E_OWNER,
    E_STATUS,
    ENTITY_LABELS,
    F_BUILD,
    F_CAN_SERVE,
    F_DESK_OWNER,
    F_DESK_STATUS,
    F_IN_FLIGHT,
    F_INTERNET,
    F_LATENESS,
    F_NOTIFIER_MESSAGES,
    F_NOTIFIER_QUEUE,
    F_OUTBOX_AGE,
    F_OUTBOX_DEPTH,
    F_RELOAD_OK,
    F_RELOAD_TS,
    F_SERVICE_OPEN,
    F_SKIPPED,
    F_TARGETS,
    HTTP_PHASES,
    HTTP_VALUES,
    ICMP_PHASES,
    ICMP_VALUES,
    RCODES,
    T_DNS_ANSWERS,
    T_DNS_LOOKUP,
    T_DNS_RCODE,
    T_DURATION,
    T_FAILURES,
    T_HTTP_PHASE,
    T_HTTP_STATUS,
    T_ICMP_PHASE,
    T_IP,
    T_LAST_RUN,
    T_RUNS,
    T_SSL_EXPIRY,
    T_STATUS,
    T_SUCCESS,
    T_SUCCESSES,
    T_TCP_PHASE,
    T_TLS_VERSION,
    TCP_PHASES,
    Family,
)
from monitor.exporter.text import Pairs, fmt_value, sample_line
from monitor.plan import TARGET_LABELS
from monitor.state import LINK_STATES, STATUSES, EntityState, State, Status, TargetState

T = TypeVar("T")

if TYPE_CHECKING:
    from monitor.scheduler import Scheduler


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

    @property
    def outbox_stats(self) -> Mapping[tuple[str, str], tuple[int, float]]:
        """(team, channel) -> (messages kept, age of the oldest in seconds)."""
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


Sample = tuple[str, Pairs, float]  # (sample name, label pairs, value)


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


def target_samples(ts: TargetState, status: Status | None) -> list[TargetSample]:
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
            for key, fi in HTTP_VALUES:
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
            for key, fi in ICMP_VALUES:
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
                rcode = RCODES.get(code, str(code))
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


def entity_samples(es: EntityState) -> list[TargetSample]:
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


def counter_value(state: State, devices: tuple[str, ...], number: int) -> str:
    """Return the ``counter`` label value its devices carry (so joins work), else the number."""
    for d in devices:
        try:
            value = state.entity_state(d).entity.labels.get("counter", "")
        except KeyError:
            continue
        if value:
            return value
    return str(number)


def run_steps(steps: Generator[None, None, T]) -> T:
    """Run a generator of steps (see ``small_families_steps``) to its end; return its value."""
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            value: T = stop.value
            return value


def small_families(
    source: MetricsSource, notifier: NotifierStats | None
) -> list[tuple[Family, list[Sample]]]:
    """Return the roll-up and service families with their samples."""
    return run_steps(small_families_steps(source, notifier))


def small_families_steps(
    source: MetricsSource, notifier: NotifierStats | None, every: int = 32
) -> Generator[None, None, list[tuple[Family, list[Sample]]]]:
    """``small_families`` in steps: yields after each ``every`` counters (1,000 counters take
    tens of milliseconds; a caller on the event loop lets other work run in between)."""
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
    for n, c in enumerate(plan.counters if plan else (), 1):
        if n % every == 0:
            yield
        can, _ = state.counter_can_serve(c)
        pairs = (
            ("site", c.site),
            ("counter", counter_value(state, c.devices, c.number)),
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
    out.extend(process_families(source.reload_successful, source.reload_success_timestamp))
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
        out.extend(notifier_families(notifier))
    return out


def process_families(reload_ok: bool, reload_ts: float | None) -> list[tuple[Family, list[Sample]]]:
    """Build info and the configuration reload gauges (every mpp-monitor process has them)."""
    python = ".".join(str(x) for x in sys.version_info[:3])
    return [
        (F_BUILD, [(F_BUILD.name, (("version", __version__), ("python", python)), 1.0)]),
        (F_RELOAD_OK, [(F_RELOAD_OK.name, (), 1.0 if reload_ok else 0.0)]),
        (F_RELOAD_TS, [] if reload_ts is None else [(F_RELOAD_TS.name, (), reload_ts)]),
    ]


def notifier_families(notifier: NotifierStats) -> list[tuple[Family, list[Sample]]]:
    """The notifier's families: messages by result, queue, outbox depth and age per channel."""
    box = sorted(notifier.outbox_stats.items())
    return [
        (
            F_NOTIFIER_MESSAGES,
            [
                (F_NOTIFIER_MESSAGES.name, (("team", t), ("channel", ch), ("result", r)), float(n))
                for (t, ch, r), n in notifier.stats.items()
            ],
        ),
        (F_NOTIFIER_QUEUE, [(F_NOTIFIER_QUEUE.name, (), float(notifier.queue_length))]),
        (
            F_OUTBOX_DEPTH,
            [
                (F_OUTBOX_DEPTH.name, (("team", t), ("channel", c)), float(n))
                for (t, c), (n, _) in box
            ],
        ),
        (
            F_OUTBOX_AGE,
            [(F_OUTBOX_AGE.name, (("team", t), ("channel", c)), age) for (t, c), (_, age) in box],
        ),
    ]


def exposition(families: list[tuple[Family, list[Sample]]]) -> bytes:
    """Families as Prometheus text (the small exposition of the standalone notifier)."""
    parts: list[str] = []
    for fam, samples in families:
        if samples:
            parts.append(fam.header)
            parts.extend(sample_line(name, p, v) for name, p, v in samples)
    return "".join(parts).encode()
