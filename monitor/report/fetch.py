"""The queries the report makes, and their results gathered into a History."""

from __future__ import annotations

import asyncio

from monitor.report.compute import History
from monitor.report.prom import LabelKey, Prometheus, SeriesSpans, label_value
from monitor.report.spans import Spans, normalize


def queries(site: str) -> dict[str, str]:
    """PromQL per History field. ``max by`` drops scrape labels (job, instance) and folds
    duplicate series (two monitors, a relabelled job) into one per thing."""
    s = f"site={label_value(site)}"
    return {
        "status": f"max by (entity, status) (mpp_entity_status{{{s}}}) == 1",
        "owners": f"max by (entity, owner_team) (mpp_entity_fault_owner{{{s}}}) == 1",
        "link_state": f"max by (entity, state) (mpp_link_state{{{s}}}) == 1",
        # min: with two monitors, the counter serves only when both say so
        "can_serve": f"min by (counter) (mpp_can_serve{{{s}}})",
        # `or` the names before 0.3 (mpp_gerai_*) so months recorded before the rename
        # still report; drop the second half once no retained month predates it.
        "counter_status": (
            f"max by (counter, status) (mpp_desk_status{{{s}}} or mpp_gerai_status{{{s}}}) == 1"
        ),
        "counter_owner": (
            f"max by (counter, owner_team) "
            f"(mpp_desk_fault_owner{{{s}}} or mpp_gerai_fault_owner{{{s}}}) == 1"
        ),
    }


def _table(
    series: dict[LabelKey, SeriesSpans], key: str, sub: str | None
) -> dict[str, dict[str, Spans]]:
    """{labels[key]: {labels[sub] (or the value): spans}}."""
    out: dict[str, dict[str, Spans]] = {}
    for s in series.values():
        ident = s.labels.get(key, "")
        if not ident:
            continue
        slot = out.setdefault(ident, {})
        if sub is None:
            for value, spans in s.by_value.items():
                name = _value_name(value)
                slot[name] = normalize([*slot.get(name, []), *spans])
        else:
            name = s.labels.get(sub, "")
            spans = [p for v in s.by_value.values() for p in v]
            slot[name] = normalize([*slot.get(name, []), *spans])
    return out


def _value_name(value: str) -> str:
    try:
        return "1" if float(value) >= 0.5 else "0"
    except ValueError:
        return value


async def fetch_history(
    prom: Prometheus, site: str, start: float, end: float, step: float
) -> History:
    """Run every query over [start, end) at step and gather the spans."""
    q = queries(site)
    names = list(q)
    results = await asyncio.gather(*(prom.fold(q[n], start, end, step) for n in names))
    got = dict(zip(names, results, strict=True))
    return History(
        start=start,
        end=end,
        step=step,
        status=_table(got["status"], "entity", "status"),
        owners=_table(got["owners"], "entity", "owner_team"),
        link_state=_table(got["link_state"], "entity", "state"),
        can_serve=_table(got["can_serve"], "counter", None),
        counter_status=_table(got["counter_status"], "counter", "status"),
        counter_owner=_table(got["counter_owner"], "counter", "owner_team"),
    )
