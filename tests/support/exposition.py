"""Reading a Prometheus text exposition in tests, with the metrics library's own parser."""

from __future__ import annotations

import json

from prometheus_client.parser import text_string_to_metric_families


def metric_samples(text: str, name: str) -> dict[str, float]:
    """Samples of one metric from an exposition, keyed by their `target` (else all labels as
    JSON)."""
    out: dict[str, float] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == name:
                key = s.labels.get("target") or json.dumps(s.labels, sort_keys=True)
                out[key] = s.value
    return out
