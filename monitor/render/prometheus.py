"""prometheus.yml from the inventory: the mpp-monitor scrape job, rules and Alertmanager,
and optionally remote_write to a central store (a regency, province or ministry).

A site's uplink is thin and goes down for hours: the remote_write queue sends few, large,
compressed batches, backs off up to five minutes while the centre is unreachable and never
drops a batch for a 5xx or 429; what is not sent yet waits in the write-ahead log and is
replayed when the link returns (docs/central.md says how long the WAL bridges an outage).
Credentials for the centre are only ever file paths in the rendered file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from monitor.inventory.model import Inventory
from monitor.render.yaml import dump as _dump


@dataclass(frozen=True)
class RemoteWrite:
    """Where and how a site sends its samples to the central store."""

    url: str
    # a file holding a bearer token, or with ``username`` the basic-auth password
    auth_file: str | None = None
    username: str | None = None
    # a batch leaves when it is full or this old: large batches compress best on a thin link
    batch_send_deadline: str = "10s"
    max_samples_per_send: int = 2000
    capacity: int = 10000
    max_shards: int = 4
    # Failed sends back off up to this. With 5m, after a 10-minute cut Prometheus 2.42 had
    # sent only the queued samples six minutes after the path came back (docs/central.md,
    # bench/central_cut.py --cut 600); with 1m the same run lost nothing and caught up.
    # A retry a minute on a dead line costs nothing.
    max_backoff: str = "1m"
    name: str = "central"
    # "all": every series; "summary": not the per-target probe detail (see SERIES)
    series: str = "all"


# What `--remote-write-series summary` leaves at the site: the per-target families (probe
# phases, RTTs, status codes, per-target status and run counters), about 80 % of a site's
# series. The centre keeps everything the monthly report, the ranking, MppSiteDark, the
# cross-site rules and the overview/counters/links/uptime dashboards read: entity, desk, link
# and site states, fault owners, the small monitor-health families, recording rules, ALERTS.
SUMMARY_DROP = (
    "probe_.+|mpp_target_status|mpp_probe_(runs|successes|failures)_total"
    "|mpp_probe_last_run_timestamp_seconds"
)
SERIES = ("all", "summary")


def site_labels(inv: Inventory) -> dict[str, str]:
    """external_labels of the site's Prometheus: site, team, and region/regency if known."""
    first = inv.sites[0]
    labels = {"site": first.id, "team": first.network_team}
    if first.region:
        labels["region"] = first.region
    if first.regency:
        labels["regency"] = first.regency
    return labels


def _location_relabels(inv: Inventory) -> list[dict[str, Any]]:
    """write_relabel_configs giving each site's series its own region/regency.

    External labels only fill labels a series lacks, and they are the first site's: when one
    monitor watches several sites, the series of the others are relabelled by their ``site``
    (Prometheus adds external labels before it applies write_relabel_configs).
    """
    first = inv.sites[0]
    rules: list[dict[str, Any]] = []
    for site in inv.sites[1:]:
        for label in ("region", "regency"):
            value = getattr(site, label)
            if value == getattr(first, label):
                continue
            rule: dict[str, Any] = {
                "source_labels": ["site"],
                "regex": site.id,
                "target_label": label,
                "replacement": value or "",
                "action": "replace",
            }
            rules.append(rule)
    return rules


def remote_write_config(inv: Inventory, rw: RemoteWrite) -> dict[str, Any]:
    """One remote_write entry for the central store."""
    entry: dict[str, Any] = {
        "url": rw.url,
        "name": rw.name,
        "remote_timeout": "30s",
        "queue_config": {
            "capacity": rw.capacity,
            "min_shards": 1,
            "max_shards": rw.max_shards,
            "max_samples_per_send": rw.max_samples_per_send,
            "batch_send_deadline": rw.batch_send_deadline,
            "min_backoff": "1s",
            "max_backoff": rw.max_backoff,
            "retry_on_http_429": True,
        },
        # metadata (HELP/TYPE) every minute would cost bandwidth for nothing at the centre
        "metadata_config": {"send": False},
    }
    if rw.auth_file and rw.username:
        entry["basic_auth"] = {"username": rw.username, "password_file": rw.auth_file}
    elif rw.auth_file:
        entry["authorization"] = {"type": "Bearer", "credentials_file": rw.auth_file}
    relabels = _location_relabels(inv)
    if rw.series == "summary":
        relabels.append({"source_labels": ["__name__"], "regex": SUMMARY_DROP, "action": "drop"})
    if relabels:
        entry["write_relabel_configs"] = relabels
    return entry


def prometheus_config(
    inv: Inventory,
    *,
    monitor_targets: list[str],
    alertmanager: list[str],
    rule_files: list[str],
    scrape_interval: str = "15s",
    notifier_targets: list[str] | None = None,
    remote_write: RemoteWrite | None = None,
    agent: bool = False,
    scrape_auth: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """prometheus.yml content: the mpp-monitor scrape job (and ``mpp-notifier`` when the
    notifier runs apart), rules and Alertmanager; remote_write to the centre when given.

    ``scrape_auth``: (user, password file) when mpp-monitor's web server has basic auth
    (``--web.config``): /metrics needs it like the webhook does.

    ``agent``: for Prometheus in agent mode (``--enable-feature=agent``), which keeps only a
    write-ahead log and forwards everything: no rules, no alerting (the centre alerts).
    """
    if agent and remote_write is None:
        raise ValueError("agent mode needs a remote_write URL: it stores nothing itself")
    # Alerts about the monitor itself (down, not scraped, reload failed) carry no site or team
    # of their own: they take them from the external labels, so they reach the team that
    # operates the monitor (the first site's network team, Kominfo) instead of nobody.
    timeout = "10s" if scrape_interval not in ("1s", "2s", "5s") else "1s"
    jobs: list[dict[str, Any]] = [
        {
            "job_name": "mpp-monitor",
            "scrape_interval": scrape_interval,
            "scrape_timeout": timeout,
            "static_configs": [{"targets": monitor_targets}],
            "metric_relabel_configs": [],
        }
    ]
    if notifier_targets:
        jobs.append(
            {
                "job_name": "mpp-notifier",
                "scrape_interval": scrape_interval,
                "scrape_timeout": timeout,
                "static_configs": [{"targets": notifier_targets}],
            }
        )
    if scrape_auth is not None:
        user, password_file = scrape_auth
        for job in jobs:
            job["basic_auth"] = {"username": user, "password_file": password_file}
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": scrape_interval,
            "external_labels": site_labels(inv),
        },
    }
    if not agent:
        config["global"]["evaluation_interval"] = scrape_interval
        config["rule_files"] = rule_files
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": alertmanager}]}]}
    config["scrape_configs"] = jobs
    if remote_write is not None:
        config["remote_write"] = [remote_write_config(inv, remote_write)]
    return config


def render_prometheus(inv: Inventory, **kwargs: Any) -> str:
    """prometheus.yml text for the inventory."""
    agent = bool(kwargs.get("agent"))
    header = "# Rendered by `mpp-monitor render prometheus`. Check with `promtool check config`.\n"
    if agent:
        header = (
            "# Rendered by `mpp-monitor render prometheus --agent` for Prometheus in agent mode\n"
            "# (prometheus --enable-feature=agent --storage.agent.path=DIR): no local rules or\n"
            "# alerting. Check with `promtool check config --agent`.\n"
        )
    return _dump(prometheus_config(inv, **kwargs), header)
