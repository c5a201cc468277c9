"""A real Alertmanager on loopback, and a webhook sink that records what it delivers.

``start_alertmanager(config_text, tmp)`` runs Debian's ``prometheus-alertmanager`` with its
own data directory, a free loopback port and clustering off; ``WebhookSink`` is a threaded
HTTP server on 127.0.0.1 that stores every POST (path, headers, JSON body).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def free_port() -> int:
    """A loopback TCP port free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Delivery:
    """One webhook call received by the sink."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class WebhookSink:
    """Records the webhook calls; answers 200 (or ``status``)."""

    status: int = 200
    received: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def paths(self) -> list[str]:
        """The paths called so far."""
        with self.lock:
            return [d.path for d in self.received]


@contextlib.contextmanager
def webhook_sink(status: int = 200) -> Iterator[tuple[WebhookSink, str]]:
    """A running sink and its base URL."""
    sink = WebhookSink(status=status)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {"raw": raw.decode(errors="replace")}
            with sink.lock:
                sink.received.append(Delivery(self.path, dict(self.headers), body))
            self.send_response(sink.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def eventually(what: str, check: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll ``check`` until true, else fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Alertmanager:
    """A running Alertmanager: its URL and helpers over its v2 API."""

    url: str
    proc: subprocess.Popen[bytes]

    def post_alerts(self, *labelsets: dict[str, str]) -> None:
        """Post firing alerts with these labels (annotations: a summary)."""
        now = dt.datetime.now(dt.UTC)
        alerts = [
            {
                "labels": labels,
                "annotations": {"summary": labels.get("alertname", "")},
                "startsAt": now.isoformat(),
                "endsAt": (now + dt.timedelta(hours=1)).isoformat(),
            }
            for labels in labelsets
        ]
        req = urllib.request.Request(
            self.url + "/api/v2/alerts",
            data=json.dumps(alerts).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status == 200

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert Alertmanager holds (with its status: active, suppressed)."""
        with urllib.request.urlopen(self.url + "/api/v2/alerts", timeout=5) as resp:
            data: list[dict[str, Any]] = json.load(resp)
            return data


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/-/ready", timeout=1) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def start_alertmanager(config_text: str, tmp: Path) -> Iterator[Alertmanager]:
    """Run Alertmanager with this configuration until the block ends."""
    assert ALERTMANAGER is not None
    cfg = tmp / "alertmanager.yml"
    cfg.write_text(config_text)
    port = free_port()
    log = (tmp / "alertmanager.log").open("wb")
    proc = subprocess.Popen(
        [
            ALERTMANAGER,
            f"--config.file={cfg}",
            f"--storage.path={tmp / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=debug",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    am = Alertmanager(f"http://127.0.0.1:{port}", proc)
    try:
        eventually("alertmanager ready", lambda: proc.poll() is None and _ready(am.url))
        yield am
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@dataclass
class NotifierProcess:
    """A running ``mpp-monitor notify``: its URL and its log file."""

    url: str
    log: Path

    def output(self) -> str:
        """What it printed so far."""
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def start_notifier(
    inventory: Path, tmp: Path, *extra: str, host: str = "127.0.0.1"
) -> Iterator[NotifierProcess]:
    """Run the real notifier (``python -m monitor notify``) on a free loopback port."""
    import sys

    port = free_port()
    log_path = tmp / "notify.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "monitor",
            "notify",
            "--config",
            str(inventory),
            "--listen",
            f"{host}:{port}",
            "--outbox",
            str(tmp / "outbox.sqlite"),
            "--log-format",
            "text",
            *extra,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    notifier = NotifierProcess(f"http://{host}:{port}", log_path)
    try:
        eventually(
            "notifier listening",
            lambda: proc.poll() is None and "mpp-monitor notify: webhook" in notifier.output(),
        )
        yield notifier
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
