"""The Grafana dashboards of mpp-monitor: one module per dashboard, built on ``panels``.

``BOARDS`` maps each generated file name (``dashboards/<name>``, the dashboard's uid plus
``.json``) to the function that builds that dashboard; ``build.render()`` writes them all
with the provisioning files (``python tools/generate.py``).
"""

from __future__ import annotations

from collections.abc import Callable

from dashboards import applications, counters, links, monitor_health, overview, uptime
from dashboards.panels import Board

BOARDS: dict[str, Callable[[], Board]] = {
    "mpp-overview.json": overview.board,
    "mpp-links.json": links.board,
    "mpp-applications.json": applications.board,
    "mpp-counters.json": counters.board,
    "mpp-uptime.json": uptime.board,
    "mpp-monitor-health.json": monitor_health.board,
}

__all__ = ["BOARDS", "Board"]
