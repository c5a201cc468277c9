"""The probe contract: one result type and the context probes get their I/O from."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


class ProbeTarget(Protocol):
    """What a probe reads of its target: where to go and how long it may take.

    ``monitor.plan.Target`` satisfies it; so does any small object a caller builds, which is
    how a probe is used and tested without the monitor.
    """

    @property
    def address(self) -> str:
        """Host or IP (icmp, dns resolver), host:port (tcp), URL (http)."""
        ...

    @property
    def timeout(self) -> float:
        """Seconds the run may take; the scheduler bounds the run with it too."""
        ...


@dataclass(slots=True)
class ProbeResult:
    """What one probe run found. Pure data: no metrics code, no I/O.

    ``reason`` is empty on success and a short machine-readable word on failure
    (``timeout``, ``connect_refused``, ``dns``, ``status``, ``tls_expired``...).
    ``phases`` maps phase name to seconds (http: resolve, connect, tls, processing,
    transfer; icmp: resolve, setup, rtt; tcp: resolve, connect, tls, exchange;
    dns: lookup).
    ``values`` holds the probe's own numbers by metric-ish name, e.g.
    ``status_code``, ``http_version``, ``content_length``, ``redirects``,
    ``ssl_earliest_cert_expiry`` (unix seconds), ``ip_protocol`` (4/6),
    ``packets_sent``, ``packets_received``, ``loss_ratio``, ``rtt_min_seconds``,
    ``rtt_median_seconds``, ``rtt_mean_seconds``, ``rtt_max_seconds``,
    ``rtt_stddev_seconds``, ``dns_rcode``, ``dns_answer_rrs``, ``lookup_seconds``.
    ``info`` holds short strings (``tls_version``, ``http_version_text``, ``detail``);
    never secrets.
    """

    success: bool
    duration_seconds: float
    reason: str = ""
    phases: dict[str, float] = field(default_factory=dict)
    values: dict[str, float] = field(default_factory=dict)
    info: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class ProbeContext:
    """Shared I/O seams handed to every probe (injectable for unit tests).

    ``monotonic`` times durations (never the wall clock); ``wall`` stamps certificate
    expiry comparisons; ``resources`` holds shared long-lived objects a probe kind owns,
    such as the ICMP shared socket, created at start-up by ``probes.setup``.
    """

    monotonic: Callable[[], float]
    wall: Callable[[], float]
    resources: dict[str, Any] = field(default_factory=dict)


ProbeFunc = Callable[[ProbeTarget, Any, ProbeContext], Awaitable[ProbeResult]]
