"""prometheus.yml from the inventory: the mpp-monitor scrape job, rules and Alertmanager."""

from __future__ import annotations

from typing import Any

from monitor.inventory.model import Inventory
from monitor.render.yaml import dump as _dump


def prometheus_config(
    inv: Inventory,
    *,
    monitor_targets: list[str],
    alertmanager: list[str],
    rule_files: list[str],
    scrape_interval: str = "15s",
    notifier_targets: list[str] | None = None,
) -> dict[str, Any]:
    """prometheus.yml content: the mpp-monitor scrape job (and ``mpp-notifier`` when the
    notifier runs apart), rules and Alertmanager."""
    # Alerts about the monitor itself (down, not scraped, reload failed) carry no site or team
    # of their own: they take them from the external labels, so they reach the team that
    # operates the monitor (the first site's network team, Kominfo) instead of nobody.
    first = inv.sites[0]
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
    return {
        "global": {
            "scrape_interval": scrape_interval,
            "evaluation_interval": scrape_interval,
            "external_labels": {"site": first.id, "team": first.network_team},
        },
        "rule_files": rule_files,
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": alertmanager}]}]},
        "scrape_configs": jobs,
    }


def render_prometheus(inv: Inventory, **kwargs: Any) -> str:
    """prometheus.yml text for the inventory."""
    return _dump(
        prometheus_config(inv, **kwargs),
        "# Rendered by `mpp-monitor render prometheus`. Check with `promtool check config`.\n",
    )
