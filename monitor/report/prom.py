"""Read history from Prometheus' HTTP API: chunked range queries folded into spans.

Prometheus refuses a range query of more than 11,000 points per series ("exceeded maximum
resolution"). A month at a 15 s step is about 178,000 points, so every query is split into
chunks of at most ``MAX_POINTS`` evaluation steps, run one after the other, and each chunk's
samples are folded into spans at once: memory holds spans, never a month of samples.

A range query evaluates the expression at ``start + k * step``; the value at an evaluation
time is the latest sample within the lookback delta. Each evaluation stands for the step
that follows it, ``[t, t + step)``; an evaluation without a value is "no data".
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from monitor.report.spans import Spans

MAX_POINTS = 10_000  # per series and query; Prometheus' limit is 11,000


class PrometheusError(Exception):
    """Prometheus could not be reached or refused a query (message fit for one line)."""


def redact(url: str) -> str:
    """The URL without credentials (user:password@) for messages."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def label_value(value: str) -> str:
    """A PromQL string literal for a label value."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


LabelKey = tuple[tuple[str, str], ...]


@dataclass
class _Open:
    start: float
    last: float
    value: str


@dataclass
class SeriesSpans:
    """One series over the whole range: spans per sample value ("1", "0", ...)."""

    labels: dict[str, str]
    by_value: dict[str, Spans] = field(default_factory=dict)


class Folder:
    """Fold range-query samples, chunk by chunk in time order, into spans per value."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.series: dict[LabelKey, SeriesSpans] = {}
        self._open: dict[LabelKey, _Open] = {}

    def add(self, result: list[dict[str, Any]]) -> None:
        """Add one chunk's ``data.result`` (a matrix)."""
        step = self.step
        tolerance = step / 1000
        for item in result:
            labels: dict[str, str] = item.get("metric", {})
            key: LabelKey = tuple(sorted(labels.items()))
            entry = self.series.get(key)
            if entry is None:
                entry = self.series[key] = SeriesSpans(labels=dict(labels))
            run = self._open.get(key)
            for ts_raw, value in item.get("values", ()):
                ts = float(ts_raw)
                if run is not None and run.value == value and ts - run.last <= step + tolerance:
                    run.last = ts
                    continue
                if run is not None:
                    entry.by_value.setdefault(run.value, []).append((run.start, run.last + step))
                run = _Open(ts, ts, value)
            if run is not None:
                self._open[key] = run

    def finish(self, end: float) -> dict[LabelKey, SeriesSpans]:
        """Close the open runs (a step never reaches past end) and return every series."""
        for key, run in self._open.items():
            spans = self.series[key].by_value.setdefault(run.value, [])
            spans.append((run.start, min(run.last + self.step, end)))
        self._open.clear()
        return self.series


def chunks(start: float, end: float, step: float, max_points: int) -> list[tuple[float, float]]:
    """Split the evaluation times start + k*step < end into (first, last) per chunk."""
    n = math.ceil((end - start) / step - 1e-9)
    out: list[tuple[float, float]] = []
    k = 0
    while k < n:
        last = min(k + max_points, n) - 1
        out.append((start + k * step, start + last * step))
        k = last + 1
    return out


class Prometheus:
    """A small client for /api/v1/query_range (one injectable aiohttp session)."""

    def __init__(
        self,
        url: str,
        session: aiohttp.ClientSession,
        *,
        timeout: float = 120.0,
        max_points: int = MAX_POINTS,
    ) -> None:
        self.url = url.rstrip("/")
        self.shown = redact(self.url)
        self.session = session
        self.timeout = timeout
        self.max_points = max_points
        self.queries = 0  # how many HTTP queries were made (for logs and tests)

    async def _post(self, path: str, form: Mapping[str, str]) -> Any:
        self.queries += 1
        try:
            async with asyncio.timeout(self.timeout):
                async with self.session.post(self.url + path, data=dict(form)) as resp:
                    text = await resp.text()
                    status = resp.status
        except TimeoutError:
            raise PrometheusError(
                f"Prometheus at {self.shown} did not answer within {self.timeout:g}s"
            ) from None
        except aiohttp.ClientError as exc:
            reason = str(exc).replace(self.url, self.shown) or type(exc).__name__
            raise PrometheusError(f"cannot reach Prometheus at {self.shown}: {reason}") from None
        try:
            body = json.loads(text)
        except ValueError:
            raise PrometheusError(
                f"{self.shown} is not a Prometheus API (HTTP {status}, not JSON)"
            ) from None
        if status != 200 or not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error", "") if isinstance(body, dict) else ""
            raise PrometheusError(
                f"Prometheus at {self.shown} refused a query (HTTP {status}): {error}"
            )
        return body.get("data", {})

    async def query_range(self, query: str, start: float, end: float, step: float) -> list[Any]:
        """One range query (start and end inclusive); returns data.result (a matrix)."""
        data = await self._post(
            "/api/v1/query_range",
            {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"},
        )
        result = data.get("result", []) if isinstance(data, dict) else []
        return result if isinstance(result, list) else []

    async def query(self, query: str, at: float) -> list[Any]:
        """One instant query at ``at``; returns data.result (a vector)."""
        data = await self._post("/api/v1/query", {"query": query, "time": f"{at:.3f}"})
        result = data.get("result", []) if isinstance(data, dict) else []
        return result if isinstance(result, list) else []

    async def fold(
        self, query: str, start: float, end: float, step: float
    ) -> dict[LabelKey, SeriesSpans]:
        """Evaluate at start + k*step < end in chunks; return the spans of every series."""
        folder = Folder(step)
        for first, last in chunks(start, end, step, self.max_points):
            folder.add(await self.query_range(query, first, last, step))
        return folder.finish(end)

    async def check(self) -> None:
        """Raise PrometheusError unless the API answers a trivial query."""
        await self._post("/api/v1/query", {"query": "vector(1)"})
