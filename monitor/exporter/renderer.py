"""The fast text renderer: label text escaped once per plan, cooperative with the loop."""

from __future__ import annotations

import asyncio
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
    small_families,
    target_label_pairs,
    target_samples,
)
from monitor.exporter.text import LabelText, escape_label, fmt_value, sample_line
from monitor.plan import Plan
from monitor.state import STATUSES, Status

_PIECE_LINES: Final = 4096  # lines per piece of a rendering


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
        chunk: int = 250,
    ) -> None:
        self._source = source
        self._notifier = notifier
        self.chunk = chunk  # targets/entities formatted between two yields to the loop
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
        for n, ts in enumerate(list(state.target_states()), 1):
            if ts.target.id not in tlabels:
                tlabels[ts.target.id] = LabelText(target_label_pairs(ts))
            if n % self.chunk == 0:
                await asyncio.sleep(0)
        for n, es in enumerate(list(state.entity_states()), 1):
            if es.entity.id not in elabels:
                elabels[es.entity.id] = LabelText(entity_label_pairs(es))
            if n % self.chunk == 0:
                await asyncio.sleep(0)

    def _build(self) -> Generator[None, None, list[tuple[str, list[str]]]]:
        """Format every sample, yielding between chunks; return (header, lines) per family."""
        state = self._source.state
        state.refresh()
        self._reset_if_new_plan()
        tlabels, elabels, status_text = self._tlabels, self._elabels, self._status_text
        chunk = max(1, self.chunk)
        tcols: list[list[str]] = [[] for _ in TARGET_FAMILIES]
        tnames = [f.name for f in TARGET_FAMILIES]
        textras = [f.extra for f in TARGET_FAMILIES]
        target_status = state.target_status
        status_fam = TARGET_FAMILIES[T_STATUS]
        n = 0
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
            n += 1
            if n % chunk == 0:
                yield
        ecols: list[list[str]] = [[] for _ in ENTITY_FAMILIES]
        for es in list(state.entity_states()):
            eid = es.entity.id
            lbl = elabels.get(eid)
            if lbl is None:
                lbl = elabels[eid] = LabelText(entity_label_pairs(es))
            for fi, extra, value in entity_samples(es):
                ecols[fi].append(lbl.line(ENTITY_FAMILIES[fi], extra, value))
            n += 1
            if n % chunk == 0:
                yield
        out: list[tuple[str, list[str]]] = []
        for fams, cols in ((TARGET_FAMILIES, tcols), (ENTITY_FAMILIES, ecols)):
            out.extend((fam.header, col) for fam, col in zip(fams, cols, strict=True) if col)
        notifier = self._notifier() if self._notifier else None
        for fam, samples in small_families(self._source, notifier):
            if samples:
                out.append((fam.header, [sample_line(name, p, v) for name, p, v in samples]))
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
        steps = self._build()
        while True:
            try:
                next(steps)
            except StopIteration as stop:
                return self._join(stop.value)

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
        """Render as pieces of a few thousand lines, yielding to the loop between pieces
        (joining and encoding 50 MB at once would hold the loop for a tenth of a second)."""
        pieces: list[bytes] = []
        for header, lines in await self._build_async():
            pieces.append(header.encode())
            for i in range(0, len(lines), _PIECE_LINES):
                pieces.append("".join(lines[i : i + _PIECE_LINES]).encode())
                await asyncio.sleep(0)
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
