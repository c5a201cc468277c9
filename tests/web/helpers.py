"""Helpers for the web, run, simulate and demo tests: processes, ports, polling, HTTP."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "demo.yaml"
T = TypeVar("T")


def free_port() -> int:
    """A loopback TCP port free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def poll(fn: Callable[[], T | None], deadline: float, what: str, step: float = 0.2) -> T:
    """Call fn until it returns something truthy; fail after `deadline` seconds."""
    end = time.monotonic() + deadline
    last: Any = None
    while True:
        try:
            last = fn()
        except (OSError, urllib.error.URLError, ValueError) as exc:
            last = exc
        else:
            if last:
                return last
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline}s waiting for {what}; last: {last!r}")
        time.sleep(step)


class Http:
    """Tiny urllib client: (status, headers, body) without raising on HTTP errors."""

    def __init__(self, base: str, auth: tuple[str, str] | None = None) -> None:
        self.base = base.rstrip("/")
        self.auth = auth

    def request(
        self,
        path: str,
        *,
        method: str = "GET",
        body: Any = None,
        timeout: float = 10.0,
        auth: tuple[str, str] | None = None,
    ) -> tuple[int, dict[str, str], str]:
        data = None
        headers = {}
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        creds = auth or self.auth
        if creds:
            token = base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, dict(resp.headers), resp.read().decode()
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, dict(exc.headers), exc.read().decode()

    def get(self, path: str, **kw: Any) -> tuple[int, dict[str, str], str]:
        return self.request(path, **kw)

    def json(self, path: str, **kw: Any) -> Any:
        status, _, body = self.request(path, **kw)
        assert status == 200, (status, body)
        return json.loads(body)


def monitor_cmd(*args: str) -> list[str]:
    """argv for `mpp-monitor ARGS` with this interpreter (no installed script needed)."""
    return [sys.executable, "-m", "monitor", *args]


class Proc:
    """A subprocess with its output in temporary files; always stopped by `stop()`."""

    def __init__(self, argv: list[str], *, cwd: Path = REPO) -> None:
        self.argv = argv
        self._out = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self._err = tempfile.TemporaryFile()  # noqa: SIM115
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.p = subprocess.Popen(argv, cwd=cwd, stdout=self._out, stderr=self._err, env=env)
        self.stopped_in: float | None = None

    def alive(self) -> bool:
        return self.p.poll() is None

    def _read(self, f: Any) -> str:
        f.seek(0)
        return str(f.read().decode(errors="replace"))

    @property
    def stdout(self) -> str:
        return self._read(self._out)

    @property
    def stderr(self) -> str:
        return self._read(self._err)

    def send(self, sig: int) -> None:
        if self.alive():
            self.p.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Signal, wait (kill after `timeout`), record how long it took; return the status."""
        start = time.monotonic()
        if self.alive():
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)
        if self.stopped_in is None:
            self.stopped_in = time.monotonic() - start
        rc = self.p.returncode
        return int(rc)

    def close(self) -> None:
        self.stop(signal.SIGKILL)
        self._out.close()
        self._err.close()

    def wait_output(self, needle: str, deadline: float) -> str:
        """Wait until stdout contains `needle` (fails early if the process died)."""

        def check() -> str | None:
            out = self.stdout
            if needle in out:
                return out
            if not self.alive():
                raise AssertionError(
                    f"{self.argv[3:]} exited {self.p.returncode}:\n{out}\n{self.stderr}"
                )
            return None

        return poll(check, deadline, f"{needle!r} in the output of {self.argv[3:]}")


def start_simulator(config: Path = DEMO, *extra: str) -> tuple[Proc, Http]:
    """Start `simulate` with no random faults; return it once its control endpoint answers."""
    port = free_port()
    proc = Proc(
        monitor_cmd(
            "simulate", str(config), "--faults", "none", "--control", f"127.0.0.1:{port}", *extra
        )
    )
    control = Http(f"http://127.0.0.1:{port}")
    try:
        proc.wait_output("control:", 20)
        poll(lambda: control.json("/faults")["ready"], 10, "the simulator's control endpoint")
    except BaseException:
        proc.close()
        raise
    return proc, control


def start_monitor(config: Path, *extra: str) -> tuple[Proc, Http, int]:
    """Start `run --config` on a free port; return it once it listens."""
    port = free_port()
    proc = Proc(
        monitor_cmd("run", "--config", str(config), "--listen", f"127.0.0.1:{port}", *extra)
    )
    try:
        proc.wait_output("status page", 20)
    except BaseException:
        proc.close()
        raise
    return proc, Http(f"http://127.0.0.1:{port}"), port
