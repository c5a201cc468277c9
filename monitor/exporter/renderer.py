"""The fast text renderer: label text escaped once per plan, cooperative with the loop."""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor
from typing import Final

from monitor.exporter.families import ENTITY_FAMILIES, T_STATUS, TARGET_FAMILIES
from monitor.exporter.samples import (
    MetricsSource,
    NotifierSource,
    entity_label_pairs,
    entity_samples,
    run_steps,
    small_families_steps,
    target_label_pairs,
    target_samples,
)
from monitor.exporter.text import LabelText, escape_label, fmt_value, sample_line
from monitor.plan import Plan
from monitor.state import STATUSES, Status

_PIECE_LINES: Final = 1024  # lines per piece of a rendering (~230 kB)


class _Slice:
    """Says when a slice of work has used its time budget (then the caller yields)."""

    __slots__ = ("began", "budget")

    def __init__(self, budget: float) -> None:
        self.budget = budget
        self.began: float | None = None  # None: the next call starts a new slice

    def over(self) -> bool:
        """Return True once ``budget`` seconds went by since the slice began (and end it)."""
        now = time.perf_counter()
        if self.began is None:
            self.began = now
        if now - self.began >= self.budget:
            self.began = None  # the time spent away from us does not count
            return True
        return False

    def restart(self) -> None:
        """Start a new slice at the next ``over`` (after the caller yielded by itself)."""
        self.began = None


class MetricsRenderer:
    """Renders the exposition text itself (see the module docstring).

    Label text is escaped once per plan per series; the five ``mpp_target_status`` lines
    of a target are kept until its status changes. Everything else is formatted per scrape
    (caching whole lines would hold as much memory as the output, for little gain when
    probes run as often as Prometheus scrapes).
    """

    def __init__(
        self,
        source: MetricsSource,
        notifier: NotifierSource | None = None,
        *,
        slice_seconds: float = 0.002,
    ) -> None:
        self._source = source
        self._notifier = notifier
        # the longest the renderer works between two yields to the loop (0: after each series)
        self.slice_seconds = slice_seconds
        self._plan: Plan | None = None
        self._tlabels: dict[str, LabelText] = {}
        self._elabels: dict[str, LabelText] = {}
        self._status_text: dict[str, tuple[Status, str]] = {}
        self._pool: ThreadPoolExecutor | None = None

    def _reset_if_new_plan(self) -> None:
        plan = self._source.state.plan
        if plan is not self._plan:
            # New dicts: a render in progress keeps the ones it started with.
            self._plan = plan
            self._tlabels = {}
            self._elabels = {}
            self._status_text = {}

    async def warm(self) -> None:
        """Escape every series' label text ahead of the first scrape, in small slices."""
        state = self._source.state
        self._reset_if_new_plan()
        tlabels, elabels = self._tlabels, self._elabels
        work = _Slice(self.slice_seconds)
        for ts in list(state.target_states()):
            if ts.target.id not in tlabels:
                tlabels[ts.target.id] = LabelText(target_label_pairs(ts))
            if work.over():
                await asyncio.sleep(0)
        for es in list(state.entity_states()):
            if es.entity.id not in elabels:
                elabels[es.entity.id] = LabelText(entity_label_pairs(es))
            if work.over():
                await asyncio.sleep(0)

    def _build(self) -> Generator[None, None, list[tuple[str, list[str]]]]:
        """Format every sample, yielding after each slice; return (header, lines) per family."""
        state = self._source.state
        yield from state.refresh_steps()
        self._reset_if_new_plan()
        tlabels, elabels, status_text = self._tlabels, self._elabels, self._status_text
        work = _Slice(self.slice_seconds)
        tcols: list[list[str]] = [[] for _ in TARGET_FAMILIES]
        tnames = [f.name for f in TARGET_FAMILIES]
        textras = [f.extra for f in TARGET_FAMILIES]
        target_status = state.target_status
        status_fam = TARGET_FAMILIES[T_STATUS]
        for ts in list(state.target_states()):
            tid = ts.target.id
            lbl = tlabels.get(tid)
            if lbl is None:
                lbl = tlabels[tid] = LabelText(target_label_pairs(ts))
            plain = lbl.plain
            for fi, extra, value in target_samples(ts, None):
                ename = textras[fi]
                if ename:
                    pre, post = lbl.split(ename)
                    tcols[fi].append(
                        f'{tnames[fi]}{pre}{ename}="{escape_label(extra)}"{post} '
                        f"{fmt_value(value)}\n"
                    )
                else:
                    tcols[fi].append(f"{tnames[fi]}{plain} {fmt_value(value)}\n")
            status = target_status(ts)
            cached = status_text.get(tid)
            if cached is None or cached[0] != status:
                text = "".join(
                    lbl.line(status_fam, st, 1.0 if st == status else 0.0) for st in STATUSES
                )
                cached = status_text[tid] = (status, text)
            tcols[T_STATUS].append(cached[1])
            if work.over():
                yield
        ecols: list[list[str]] = [[] for _ in ENTITY_FAMILIES]
        for es in list(state.entity_states()):
            eid = es.entity.id
            lbl = elabels.get(eid)
            if lbl is None:
                lbl = elabels[eid] = LabelText(entity_label_pairs(es))
            for fi, extra, value in entity_samples(es):
                ecols[fi].append(lbl.line(ENTITY_FAMILIES[fi], extra, value))
            if work.over():
                yield
        out: list[tuple[str, list[str]]] = []
        for fams, cols in ((TARGET_FAMILIES, tcols), (ENTITY_FAMILIES, ecols)):
            out.extend((fam.header, col) for fam, col in zip(fams, cols, strict=True) if col)
        notifier = self._notifier() if self._notifier else None
        # the roll-ups: 1,000 counters are ~7,000 lines and tens of milliseconds
        small = yield from small_families_steps(self._source, notifier)
        work.restart()
        for fam, samples in small:
            if not samples:
                continue
            lines: list[str] = []
            for name, pairs, value in samples:
                lines.append(sample_line(name, pairs, value))
                if work.over():
                    yield
            out.append((fam.header, lines))
        return out

    @staticmethod
    def _join(families: list[tuple[str, list[str]]]) -> bytes:
        parts: list[str] = []
        for header, lines in families:
            parts.append(header)
            parts.extend(lines)
        return "".join(parts).encode()

    def render(self) -> bytes:
        """Render the whole exposition at once (no event loop needed)."""
        return self._join(run_steps(self._build()))

    async def _build_async(self) -> list[tuple[str, list[str]]]:
        steps = self._build()
        while True:
            try:
                next(steps)
            except StopIteration as stop:
                families: list[tuple[str, list[str]]] = stop.value
                return families
            await asyncio.sleep(0)

    async def render_async(self) -> bytes:
        """Render, letting the event loop run between chunks of series."""
        return b"".join(await self.render_pieces())

    async def render_pieces(self) -> list[bytes]:
        """Render as pieces of about a thousand lines, yielding to the loop between slices
        (joining and encoding 50 MB at once would hold the loop for a tenth of a second, and
        so would freeing the 240k lines of 10,000 targets at once: each family's lines are
        dropped as soon as they are joined)."""
        pieces: list[bytes] = []
        work = _Slice(self.slice_seconds)
        for header, lines in await self._build_async():
            pieces.append(header.encode())
            for i in range(0, len(lines), _PIECE_LINES):
                pieces.append("".join(lines[i : i + _PIECE_LINES]).encode())
                if work.over():
                    await asyncio.sleep(0)
            lines.clear()
        return pieces

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="metrics-gzip")
        return self._pool

    async def gzip(self, pieces: list[bytes]) -> list[bytes]:
        """Compress pieces off the event loop (zlib releases the GIL): one gzip stream."""
        loop = asyncio.get_running_loop()
        comp = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # gzip container, fast
        out = [await loop.run_in_executor(self._executor(), comp.compress, p) for p in pieces]
        out.append(comp.flush())
        return [p for p in out if p]

    def close(self) -> None:
        """Release the compression thread."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
