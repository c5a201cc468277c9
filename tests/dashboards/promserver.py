"""Start the real Prometheus binary (Debian package) on loopback for tests, and query it.

Usage (sync or async tests alike; the server is a child process, not a coroutine)::

    with start_prometheus(config_yaml, rule_files=[Path("alerts/mpp.rules.yml")]) as prom:
        prom.wait_for('up{job="mpp-monitor"} == 1')
        result = prom.query("mpp_site_internet_up")  # the API's data.result list

In an async test that also serves /metrics from its own event loop, never block the loop
while waiting: use ``await prom.wait_for_async(...)`` / ``await prom.query_async(...)``.

The server listens on 127.0.0.1 on a free port, keeps its data in a temporary directory
(or in ``data_dir``, e.g. blocks made by ``promtool tsdb create-blocks-from openmetrics``),
and is stopped (SIGTERM, then SIGKILL) when the ``with`` block ends, also on failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROMETHEUS_BIN = shutil.which("prometheus") or "/usr/bin/prometheus"

# A long retention so that backfilled history (a month of synthetic data for report tests)
# is not deleted by the default 15-day retention the moment the server starts.
DEFAULT_ARGS: tuple[str, ...] = ("--storage.tsdb.retention.time=3650d", "--log.level=info")


class PrometheusError(RuntimeError):
    """Prometheus failed to start, or answered a query with an error."""


@dataclass
class QueryResponse:
    """One raw answer of the query API: status "success" or "error"."""

    status: str
    result_type: str
    result: list[Any]
    error_type: str
    error: str
    warnings: list[str]

    @property
    def ok(self) -> bool:
        """True when the query parsed and ran."""
        return self.status == "success"


@dataclass
class PromServer:
    """A running Prometheus: its base URL, process and working directory."""

    url: str
    process: subprocess.Popen[bytes]
    workdir: Path
    log_path: Path
    request_timeout: float = 10.0

    def _call(self, path: str, params: Sequence[tuple[str, str]]) -> dict[str, Any]:
        body = urllib.parse.urlencode(list(params)).encode()
        req = urllib.request.Request(
            self.url + path,
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=self.request_timeout) as resp:
                payload = resp.read()
        except urllib.error.HTTPError as exc:
            # The API answers bad queries with 400/422 and a JSON body naming the error.
            payload = exc.read()
        data: dict[str, Any] = json.loads(payload)
        return data

    def query_raw(self, expr: str, at: float | None = None) -> QueryResponse:
        """Run an instant query and return the answer without raising on a query error."""
        params = [("query", expr)]
        if at is not None:
            params.append(("time", f"{at:.3f}"))
        data = self._call("/api/v1/query", params)
        inner = data.get("data") or {}
        return QueryResponse(
            status=str(data.get("status", "")),
            result_type=str(inner.get("resultType", "")),
            result=list(inner.get("result") or []),
            error_type=str(data.get("errorType", "")),
            error=str(data.get("error", "")),
            warnings=list(data.get("warnings") or []),
        )

    def query(self, expr: str, at: float | None = None) -> list[Any]:
        """Run an instant query; return ``data.result`` (raise PrometheusError on error)."""
        resp = self.query_raw(expr, at)
        if not resp.ok:
            raise PrometheusError(f"{resp.error_type}: {resp.error} (query: {expr})")
        return resp.result

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Any]:
        """Run a range query; return ``data.result`` (raise PrometheusError on error)."""
        data = self._call(
            "/api/v1/query_range",
            [
                ("query", expr),
                ("start", f"{start:.3f}"),
                ("end", f"{end:.3f}"),
                ("step", str(step)),
            ],
        )
        if data.get("status") != "success":
            raise PrometheusError(f"{data.get('errorType')}: {data.get('error')} (query: {expr})")
        return list(data["data"]["result"])

    def label_values(self, label: str, match: str | None = None) -> list[str]:
        """Return the values of a label, optionally only on series matching a selector."""
        params = [("match[]", match)] if match else []
        query = urllib.parse.urlencode(params)
        url = f"{self.url}/api/v1/label/{urllib.parse.quote(label)}/values"
        with urllib.request.urlopen(
            url + (f"?{query}" if query else ""), timeout=self.request_timeout
        ) as resp:
            data = json.loads(resp.read())
        if data.get("status") != "success":
            raise PrometheusError(f"{data.get('errorType')}: {data.get('error')}")
        return [str(v) for v in data["data"]]

    def wait_for(
        self,
        expr: str,
        *,
        timeout: float = 30.0,
        until: Callable[[list[Any]], bool] = bool,
        poll: float = 0.1,
    ) -> list[Any]:
        """Poll an instant query until ``until(result)`` holds; TimeoutError at the deadline."""
        deadline = time.monotonic() + timeout
        result: list[Any] = []
        while True:
            self._check_alive()
            result = self.query(expr)
            if until(result):
                return result
            if time.monotonic() >= deadline:
                raise TimeoutError(f"after {timeout:.0f}s, {expr!r} still gives {result!r}")
            time.sleep(poll)

    async def query_async(self, expr: str, at: float | None = None) -> list[Any]:
        """``query`` run in a worker thread, so the caller's event loop keeps serving."""
        return await asyncio.to_thread(self.query, expr, at)

    async def wait_for_async(
        self,
        expr: str,
        *,
        timeout: float = 30.0,
        until: Callable[[list[Any]], bool] = bool,
        poll: float = 0.1,
    ) -> list[Any]:
        """``wait_for`` that yields to the event loop between polls."""
        async with asyncio.timeout(timeout):
            while True:
                self._check_alive()
                result = await self.query_async(expr)
                if until(result):
                    return result
                await asyncio.sleep(poll)

    def log_tail(self, lines: int = 30) -> str:
        """The last lines Prometheus wrote to its log."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _check_alive(self) -> None:
        if self.process.poll() is not None:
            raise PrometheusError(
                f"prometheus exited with {self.process.returncode}:\n{self.log_tail()}"
            )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_ready(server: PromServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        server._check_alive()
        try:
            with urllib.request.urlopen(server.url + "/-/ready", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass  # not listening yet, or still replaying its WAL (503)
        if time.monotonic() >= deadline:
            raise PrometheusError(f"not ready after {timeout:.0f}s:\n{server.log_tail()}")
        time.sleep(0.05)


@contextlib.contextmanager
def start_prometheus(
    config_yaml: str,
    rule_files: Sequence[Path] = (),
    extra_args: Sequence[str] = (),
    *,
    data_dir: Path | None = None,
    ready_timeout: float = 30.0,
) -> Iterator[PromServer]:
    """Run Prometheus with this config on 127.0.0.1:<free port> until the block ends.

    ``rule_files`` are copied next to the config and appended as its ``rule_files:`` list
    (the config must then not have its own). ``extra_args`` go after the defaults, so they
    can override them (e.g. ``--query.lookback-delta=1m``, ``--web.enable-admin-api``).
    """
    if rule_files and any(line.startswith("rule_files:") for line in config_yaml.splitlines()):
        raise ValueError("pass rule files either in config_yaml or as rule_files, not both")
    with tempfile.TemporaryDirectory(prefix="mpp-prom-") as tmp:
        workdir = Path(tmp)
        copied = []
        for i, src in enumerate(rule_files):
            dst = workdir / f"rules-{i}-{Path(src).name}"
            shutil.copyfile(src, dst)
            copied.append(dst)
        text = config_yaml if config_yaml.endswith("\n") else config_yaml + "\n"
        if copied:
            text += "rule_files:\n" + "".join(f"  - {json.dumps(str(p))}\n" for p in copied)
        config_path = workdir / "prometheus.yml"
        config_path.write_text(text, encoding="utf-8")
        storage = data_dir if data_dir is not None else workdir / "data"
        log_path = workdir / "prometheus.log"

        # The free port can be taken between probing and binding: retry a few times.
        for attempt in range(3):
            port = _free_port()
            args = [
                PROMETHEUS_BIN,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={storage}",
                f"--web.listen-address=127.0.0.1:{port}",
                *DEFAULT_ARGS,
                *extra_args,
            ]
            with log_path.open("ab") as log:
                process = subprocess.Popen(
                    args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
                )
            server = PromServer(f"http://127.0.0.1:{port}", process, workdir, log_path)
            try:
                _wait_ready(server, ready_timeout)
            except PrometheusError:
                _stop(process)
                if attempt < 2 and "address already in use" in server.log_tail():
                    continue
                raise
            except BaseException:
                _stop(process)
                raise
            break
        try:
            yield server
        finally:
            _stop(process)
