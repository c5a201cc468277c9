"""Every metric family of /metrics, once: name, type, help and extra label (docs/metrics.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"


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
HTTP_VALUES: Final = (
    ("http_version", T_HTTP_VERSION),
    ("content_length", T_HTTP_LENGTH),
    ("redirects", T_HTTP_REDIRECTS),
)
ICMP_VALUES: Final = (
    ("packets_sent", T_ICMP_SENT),
    ("packets_received", T_ICMP_RECEIVED),
    ("loss_ratio", T_ICMP_LOSS),
    ("rtt_min_seconds", T_RTT_MIN),
    ("rtt_median_seconds", T_RTT_MEDIAN),
    ("rtt_mean_seconds", T_RTT_MEAN),
    ("rtt_max_seconds", T_RTT_MAX),
    ("rtt_stddev_seconds", T_RTT_STDDEV),
)
RCODES: Final = {
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
ENTITY_LABELS: Final = (
    "entity",
    "site",
    "team",
    "kind",
    "agency",
    "counter",
    "device",
    "link",
    "via",
)

# -- roll-ups and the service itself ----------------------------------------------------------
F_INTERNET = _g(
    "mpp_site_internet_up", "1 if any internet link (isp, dedicated) of the site is up or degraded."
)
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
F_OUTBOX_DEPTH = _g(
    "mpp_notifier_outbox_messages", "Messages kept in the outbox for a channel, not yet delivered."
)
F_OUTBOX_AGE = _g(
    "mpp_notifier_outbox_oldest_age_seconds",
    "Age of the oldest undelivered message for a channel (0 when none).",
)

SERVICE_FAMILIES: Final[tuple[Family, ...]] = (
    F_INTERNET,
    F_CAN_SERVE,
    F_DESK_STATUS,
    F_DESK_OWNER,
    F_SERVICE_OPEN,
    F_BUILD,
    F_RELOAD_OK,
    F_RELOAD_TS,
    F_TARGETS,
    F_IN_FLIGHT,
    F_LATENESS,
    F_SKIPPED,
    F_NOTIFIER_MESSAGES,
    F_NOTIFIER_QUEUE,
    F_OUTBOX_DEPTH,
    F_OUTBOX_AGE,
)
# Every family the service can export: the metric contract of docs/metrics.md, once.
ALL_FAMILIES: Final = TARGET_FAMILIES + ENTITY_FAMILIES + SERVICE_FAMILIES
