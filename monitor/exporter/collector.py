"""A prometheus_client Collector over the state: fresh families per scrape."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    UnknownMetricFamily,
)
from prometheus_client.registry import Collector

from monitor.exporter.families import ENTITY_FAMILIES, ENTITY_LABELS, TARGET_FAMILIES, Family
from monitor.exporter.samples import (
    MetricsSource,
    NotifierSource,
    entity_label_pairs,
    entity_samples,
    small_families,
    target_label_pairs,
    target_samples,
)
from monitor.exporter.text import fmt_value
from monitor.plan import TARGET_LABELS


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
            for fi, extra, value in target_samples(ts, state.target_status(ts)):
                _add(fams[fi], TARGET_FAMILIES[fi], values, extra, value)
        yield from (f for f in fams if f.samples)
        efams: list[Metric] = [_family(f, list(ENTITY_LABELS)) for f in ENTITY_FAMILIES]
        for es in state.entity_states():
            values = [v for _, v in entity_label_pairs(es)]
            for fi, extra, value in entity_samples(es):
                _add(efams[fi], ENTITY_FAMILIES[fi], values, extra, value)
        yield from (f for f in efams if f.samples)
        notifier = self._notifier() if self._notifier else None
        for fam, samples in small_families(self._source, notifier):
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
