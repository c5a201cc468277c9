"""Span arithmetic (monitor.report.spans) against a brute-force model on a grid."""

from __future__ import annotations

import random

import pytest

from monitor.report import spans as sp

GRID = 60


def random_spans(rng: random.Random) -> sp.Spans:
    pieces = []
    for _ in range(rng.randint(0, 6)):
        a = rng.randint(0, GRID - 1)
        pieces.append((float(a), float(rng.randint(a, GRID))))
    return sp.normalize(pieces)


def cells(s: sp.Spans) -> set[int]:
    return {t for t in range(GRID) if any(a <= t < b for a, b in s)}


@pytest.mark.parametrize("seed", range(40))
def test_operations_agree_with_sets(seed: int) -> None:
    rng = random.Random(seed)
    a, b = random_spans(rng), random_spans(rng)
    assert cells(sp.union(a, b)) == cells(a) | cells(b)
    assert cells(sp.intersect(a, b)) == cells(a) & cells(b)
    assert cells(sp.subtract(a, b)) == cells(a) - cells(b)
    assert sp.total(sp.intersect(a, b)) == len(cells(a) & cells(b))
    assert cells(sp.clip(a, 10, 30)) == {t for t in cells(a) if 10 <= t < 30}
    for t in range(GRID):
        assert sp.covers(a, t + 0.5) == (t in cells(a))
    for result in (sp.union(a, b), sp.intersect(a, b), sp.subtract(a, b)):
        assert result == sp.normalize(result)  # sorted, disjoint, not touching


def test_normalize_merges_touching_and_drops_empty() -> None:
    assert sp.normalize([(5, 6), (0, 2), (2, 3), (4, 4)]) == [(0, 3), (5, 6)]


def test_split_by_names_every_owner_and_the_unexplained_rest() -> None:
    target = [(0.0, 10.0)]
    owners = {"kominfo": [(2.0, 6.0)], "it-bpjs": [(4.0, 8.0)]}
    assert sp.split_by(target, owners) == {
        "": [(0.0, 2.0), (8.0, 10.0)],
        "kominfo": [(2.0, 4.0)],
        "it-bpjs+kominfo": [(4.0, 6.0)],
        "it-bpjs": [(6.0, 8.0)],
    }


def test_merge_across_joins_short_gaps_only_without_other_values() -> None:
    spans = [(0.0, 10.0), (26.0, 30.0), (31.0, 40.0), (100.0, 110.0)]
    # 10-26 is longer than 15: never joined; 30-31 is short: joined unless it holds
    # another value (blocked)
    assert sp.merge_across(spans, 15, blocked=[]) == [(0.0, 10.0), (26.0, 40.0), (100.0, 110.0)]
    assert sp.merge_across(spans, 15, blocked=[(30.0, 31.0)]) == spans
    assert sp.merge_across(spans, 0.5, blocked=[]) == spans
