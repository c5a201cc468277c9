"""Runtime state: the store of results and its roll-ups, views, history and the calendar.

store     State: latest results, counters, hysteresis, dependencies, owners, can-serve
views     statuses and the read-only snapshot types pages, the API and exporter read
history   a target's short ring of results
calendar  service hours, closed days and maintenance windows of a site
"""

from monitor.state.history import History, HistoryEntry
from monitor.state.store import (
    EntityState,
    InMaintenance,
    State,
    TargetState,
    never_in_maintenance,
)
from monitor.state.views import (
    FAILED,
    LINK_STATES,
    STATUSES,
    CounterView,
    EntityView,
    LinkState,
    LinkView,
    SiteView,
    Snapshot,
    Status,
    TargetView,
)

__all__ = [
    "FAILED",
    "LINK_STATES",
    "STATUSES",
    "CounterView",
    "EntityState",
    "EntityView",
    "History",
    "HistoryEntry",
    "InMaintenance",
    "LinkState",
    "LinkView",
    "SiteView",
    "Snapshot",
    "State",
    "Status",
    "TargetState",
    "TargetView",
    "never_in_maintenance",
]
