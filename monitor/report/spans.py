"""Sets of time as sorted, disjoint, half-open spans of unix seconds: [(start, end), ...]."""

from __future__ import annotations

import itertools
from bisect import bisect_right
from collections.abc import Iterable, Mapping

from monitor.state.calendar import merge_intervals

Span = tuple[float, float]
Spans = list[Span]


def normalize(pieces: Iterable[Span]) -> Spans:
    """Sort spans and merge the overlapping or touching ones; drop empty ones."""
    return merge_intervals(p for p in pieces if p[1] > p[0])


def union(*sets: Spans) -> Spans:
    """Time in any of the sets."""
    return normalize(p for s in sets for p in s)


def intersect(a: Spans, b: Spans) -> Spans:
    """Time in both sets (both normalized)."""
    out: Spans = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo = max(a[i][0], b[j][0])
        hi = min(a[i][1], b[j][1])
        if lo < hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def subtract(a: Spans, b: Spans) -> Spans:
    """Time in a and not in b (both normalized)."""
    out: Spans = []
    j = 0
    for lo, hi in a:
        cur = lo
        while j < len(b) and b[j][1] <= cur:
            j += 1
        k = j
        while k < len(b) and b[k][0] < hi:
            if b[k][0] > cur:
                out.append((cur, b[k][0]))
            cur = max(cur, b[k][1])
            if cur >= hi:
                break
            k += 1
        if cur < hi:
            out.append((cur, hi))
    return out


def clip(a: Spans, lo: float, hi: float) -> Spans:
    """The part of a within [lo, hi)."""
    return intersect(a, [(lo, hi)]) if lo < hi else []


def total(a: Spans) -> float:
    """Total length in seconds."""
    return sum(b - x for x, b in a)


def covers(a: Spans, t: float) -> bool:
    """True if instant t lies in a (normalized)."""
    i = bisect_right(a, (t, float("inf"))) - 1
    return i >= 0 and a[i][0] <= t < a[i][1]


def split_by(target: Spans, owners: Mapping[str, Spans]) -> dict[str, Spans]:
    """Split target by which owners cover it: key "a+b" for several, "" for none."""
    edges: set[float] = set()
    for lo, hi in target:
        edges.update((lo, hi))
    for spans in owners.values():
        for lo, hi in intersect(target, spans):
            edges.update((lo, hi))
    points = sorted(edges)
    out: dict[str, Spans] = {}
    for x, y in itertools.pairwise(points):
        mid = (x + y) / 2
        if not covers(target, mid):
            continue
        key = "+".join(sorted(t for t, s in owners.items() if covers(s, mid)))
        out.setdefault(key, []).append((x, y))
    return {k: normalize(v) for k, v in out.items()}


def merge_across(spans: Spans, max_gap: float, blocked: Spans) -> Spans:
    """Join consecutive spans whose gap is at most max_gap and holds no time of blocked."""
    out: Spans = []
    for a, b in spans:
        if out and a - out[-1][1] <= max_gap and not intersect([(out[-1][1], a)], blocked):
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out
