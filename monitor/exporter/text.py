"""The text exposition format: values as prometheus_client formats them, escaped label text."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Final

from monitor.exporter.families import Family

Pairs = tuple[tuple[str, str], ...]

_INF: Final = math.inf


def fmt_value(d: float) -> str:
    """Format a sample value exactly as prometheus_client's floatToGoString does."""
    d = float(d)
    if -1e6 < d < 1e6:  # the common case: repr() is already Go's format (NaN is not in range)
        return repr(d)
    if d == _INF:
        return "+Inf"
    if d == -_INF:
        return "-Inf"
    if d != d:
        return "NaN"
    s = repr(d)
    if d > 0:
        dot = s.find(".")
        # Go switches to exponents sooner than Python.
        if dot > 6:
            mantissa = f"{s[0]}.{s[1:dot]}{s[dot + 1 :]}".rstrip("0.")
            return f"{mantissa}e+{dot - 1:02d}"
    return s


def escape_label(v: str) -> str:
    """Escape a label value for the text format."""
    if "\\" in v or "\n" in v or '"' in v:
        return v.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return v


def pairs_text(pairs: Iterable[tuple[str, str]]) -> str:
    return ",".join(f'{k}="{escape_label(v)}"' for k, v in sorted(pairs))


def sample_line(name: str, pairs: Pairs, value: float) -> str:
    if pairs:
        return f"{name}{{{pairs_text(pairs)}}} {fmt_value(value)}\n"
    return f"{name} {fmt_value(value)}\n"


class LabelText:
    """One series' label set, escaped once: plain ``{...}`` and split around an extra label."""

    __slots__ = ("_pairs", "_split", "plain")

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._pairs = sorted(pairs)
        self.plain = "{" + pairs_text(self._pairs) + "}"
        self._split: dict[str, tuple[str, str]] = {}

    def split(self, extra: str) -> tuple[str, str]:
        """Return (text before, text after) the ``extra="..."`` label in sorted position."""
        got = self._split.get(extra)
        if got is None:
            before = [p for p in self._pairs if p[0] < extra]
            after = [p for p in self._pairs if p[0] > extra]
            pre = "{" + pairs_text(before) + ("," if before else "")
            post = ("," + pairs_text(after) if after else "") + "}"
            got = self._split[extra] = (pre, post)
        return got

    def line(self, fam: Family, extra_value: str, value: float) -> str:
        """Return one sample line of this series in the family."""
        if fam.extra:
            pre, post = self.split(fam.extra)
            return (
                f'{fam.name}{pre}{fam.extra}="{escape_label(extra_value)}"{post} '
                f"{fmt_value(value)}\n"
            )
        return f"{fam.name}{self.plain} {fmt_value(value)}\n"
