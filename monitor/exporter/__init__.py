"""The /metrics exposition: a Collector over the state, and a fast text renderer.

Both produce the same bytes from one description of the samples (``samples.target_samples``,
``samples.entity_samples``, ``samples.small_families``):

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

from monitor.exporter.collector import MonitorCollector
from monitor.exporter.families import (
    ALL_FAMILIES,
    CONTENT_TYPE,
    ENTITY_FAMILIES,
    ENTITY_LABELS,
    TARGET_FAMILIES,
    Family,
)
from monitor.exporter.handler import MetricsHandler, metrics_handler
from monitor.exporter.renderer import MetricsRenderer
from monitor.exporter.samples import MetricsSource, NotifierSource, NotifierStats
from monitor.exporter.text import LabelText, escape_label, fmt_value

__all__ = [
    "ALL_FAMILIES",
    "CONTENT_TYPE",
    "ENTITY_FAMILIES",
    "ENTITY_LABELS",
    "TARGET_FAMILIES",
    "Family",
    "LabelText",
    "MetricsHandler",
    "MetricsRenderer",
    "MetricsSource",
    "MonitorCollector",
    "NotifierSource",
    "NotifierStats",
    "escape_label",
    "fmt_value",
    "metrics_handler",
]
