"""mpp-monitor side by side with blackbox_exporter on the same loopback targets.

One run measures, and prints:

1. per probe kind (http, tcp, icmp; one run per kind and side): CPU-seconds per 1,000 probes
   of ``mpp-monitor run`` (the whole service: scheduler, probes, state, and a /metrics scrape
   per interval as Prometheus would do) and of blackbox_exporter (Debian's
   ``prometheus-blackbox-exporter``, started here with its own config and driven one
   ``/probe?module=...&target=...`` request per probe on a staggered schedule, as Prometheus
   does), and the ratio. CPU comes from ``/proc/<pid>/stat`` (utime + stime, all threads);
   the driver's own CPU is measured separately and not charged to blackbox_exporter.
2. at scale (default 10,000 targets, 15 s interval, mostly tcp/icmp): service CPU, start
   lateness p50/p99 from ``mpp_scheduler_start_lateness_seconds`` without scrapes and with a
   scraper hitting /metrics every 5 s and every 1 s, /metrics wall time, size and series,
   an estimate of the CPU per scrape, and RSS over time.

Targets are loopback servers (``bench/targets_server.py``, a separate process whose CPU is
charged to neither side) on 127.77.0.x, and ICMP echo to 127.88.x.y (answered by the
kernel). Everything is loopback only, bounded in count and time, and every child process is
stopped in ``finally``. ICMP needs root (raw sockets), as does installing the Debian package.

    .venv/bin/python bench/compare_blackbox.py            # full run, about 10 minutes
    .venv/bin/python bench/compare_blackbox.py --quick    # smoke run, about 2 minutes
    .venv/bin/python bench/compare_blackbox.py --kinds tcp --targets 2000 --duration 60
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gzip
import heapq
import json
import math
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import aiohttp
from yarl import URL

from monitor.scheduler import bucket_quantile

ROOT = Path(__file__).resolve().parent.parent
MPP = ROOT / ".venv" / "bin" / "mpp-monitor"
PYTHON = ROOT / ".venv" / "bin" / "python"
TARGETS_SERVER = ROOT / "bench" / "targets_server.py"
BLACKBOX = "prometheus-blackbox-exporter"
BLACKBOX_DEB = "prometheus-blackbox-exporter"

QUIET = ("--log-level", "warning")
BB_QUIET = ("--log.level=warn",)
PR_SET_PDEATHSIG = 1  # linux/prctl.h
SETTLE = 1.5  # seconds between the boundary sample and a phase's first scrape
RSS_EVERY = 2.0  # seconds between VmRSS samples in the scale run
MAX_TARGETS = 50_000  # hard bounds whatever the arguments say
MAX_SECONDS = 1800
ICMP_BASE = 0x7F580000  # 127.88.0.0: ICMP targets 127.88.0.1 ... (answered by the kernel)
TARGET_ADDRESSES = 128  # 127.77.0.1 ... with one HTTP and one TCP server each
CLK_TCK = os.sysconf("SC_CLK_TCK")
KINDS = ("http", "tcp", "icmp")
# blackbox_exporter's module per kind (names from its example config)
MODULES = {"http": "http_2xx", "tcp": "tcp_connect", "icmp": "icmp"}

BLACKBOX_CONFIG = """\
modules:
  http_2xx:
    prober: http
    timeout: {timeout}s
    http:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
  tcp_connect:
    prober: tcp
    timeout: {timeout}s
    tcp:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
  icmp:
    prober: icmp
    timeout: {timeout}s
    icmp:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
"""


# ---- processes ----------------------------------------------------------------------------


def cpu_times(pid: int) -> tuple[float, float]:
    """Return (user, system) CPU seconds of a process (all its threads) from /proc."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK  # utime, stime (14, 15)


def cpu_seconds(pid: int) -> float:
    """Return user + system CPU seconds of a process (all its threads)."""
    return sum(cpu_times(pid))


def rss_mib(pid: int) -> float:
    """Return the resident set size of a process in MiB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


def own_cpu() -> float:
    """Return this process's user + system CPU seconds."""
    t = os.times()
    return t.user + t.system


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM if the benchmark dies without cleaning up."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Children:
    """Child processes started by the benchmark; all stopped by ``stop_all``."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, argv: Sequence[object], log: Path, **kw: object) -> subprocess.Popen[bytes]:
        """Start a child with stdout+stderr to ``log`` (unless given) and remember it."""
        if "stdout" not in kw:
            kw["stdout"] = log.open("wb")
        kw.setdefault("stderr", subprocess.STDOUT)
        kw.setdefault("preexec_fn", _die_with_parent)
        proc = subprocess.Popen([str(a) for a in argv], **kw)  # type: ignore[call-overload]
        self.procs.append(proc)
        return proc  # type: ignore[no-any-return]

    @staticmethod
    def stop(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
        """SIGTERM, wait up to ``grace`` seconds, then SIGKILL."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def stop_all(self) -> None:
        """Stop every child still running, newest first."""
        for proc in reversed(self.procs):
            with contextlib.suppress(Exception):
                self.stop(proc)


def tail(path: Path, lines: int = 15) -> str:
    """Return the last lines of a log file."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def raise_open_files() -> int:
    """Raise the soft open-files limit to the hard one (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft < want:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def find_blackbox() -> str | None:
    """Return the blackbox_exporter binary, installing the Debian package when root."""
    path = shutil.which(BLACKBOX)
    if path:
        return path
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print(
            f"blackbox_exporter not found: install the Debian package {BLACKBOX_DEB} "
            f"(apt-get install {BLACKBOX_DEB}) as root, then run again",
            file=sys.stderr,
        )
        return None
    print(f"installing {BLACKBOX_DEB} with apt-get ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    argv = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", BLACKBOX_DEB]
    if subprocess.run(argv, env=env, capture_output=True, timeout=600).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
        subprocess.run(argv, env=env, capture_output=True, timeout=600)
    path = shutil.which(BLACKBOX)
    if not path:
        print(f"could not install {BLACKBOX_DEB}", file=sys.stderr)
    return path


async def wait_http(url: str, seconds: float, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until ``url`` answers 200 (RuntimeError with the log's tail if it never does)."""
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args} exited with {proc.returncode}:\n{tail(log)}")
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as r:
                    if r.status == 200:
                        return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {seconds:g}s:\n{tail(log)}")


# ---- targets ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """Where the loopback targets listen."""

    http: list[tuple[str, int]]
    tcp: list[tuple[str, int]]
    pid: int


def start_targets(children: Children, tmp: Path, max_seconds: float) -> Layout:
    """Start bench/targets_server.py and read its layout line."""
    proc = children.start(
        [
            PYTHON,
            TARGETS_SERVER,
            "--addresses",
            TARGET_ADDRESSES,
            "--max-seconds",
            int(max_seconds),
        ],
        tmp / "targets.log",
        stdin=subprocess.PIPE,  # closing it (or dying) stops the server
        stdout=subprocess.PIPE,
        stderr=(tmp / "targets.log").open("wb"),
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait(5)
        raise RuntimeError(f"targets server failed:\n{tail(tmp / 'targets.log')}")
    data = json.loads(line)
    return Layout(
        http=[(h, int(p)) for h, p in data["http"]],
        tcp=[(h, int(p)) for h, p in data["tcp"]],
        pid=int(data["pid"]),
    )


def icmp_address(i: int) -> str:
    """Return the i-th ICMP target address (127.88.0.1 + i)."""
    return socket.inet_ntoa((ICMP_BASE + 1 + i).to_bytes(4, "big"))


def probe_targets(kinds: Sequence[str], layout: Layout) -> list[tuple[str, str]]:
    """Return (kind, blackbox target) for each target, in order (kinds[i] for target i)."""
    out = []
    for i, kind in enumerate(kinds):
        if kind == "http":
            host, port = layout.http[i % len(layout.http)]
            out.append((kind, f"http://{host}:{port}/"))
        elif kind == "tcp":
            host, port = layout.tcp[i % len(layout.tcp)]
            out.append((kind, f"{host}:{port}"))
        else:
            out.append((kind, icmp_address(i)))
    return out


def mix_kinds(n: int, mix: dict[str, int]) -> list[str]:
    """Return n kinds interleaved in the proportions of ``mix`` (e.g. icmp 45, tcp 45, http 10)."""
    total = sum(mix.values())
    out: list[str] = []
    acc = dict.fromkeys(mix, 0.0)
    for _ in range(n):
        for k, w in mix.items():
            acc[k] += w / total
        kind = max(acc, key=lambda k: acc[k])
        acc[kind] -= 1.0
        out.append(kind)
    return out


def write_inventory(
    path: Path, kinds: Sequence[str], layout: Layout, interval: float, timeout: float, count: int
) -> int:
    """Write an inventory with one counter device (one check) per target; return targets."""
    per_counter = max(10, math.ceil(len(kinds) / 999))
    lines = [
        f"defaults: {{interval: {interval:g}s, timeout: {timeout:g}s}}",
        "sites:",
        "  - id: bench",
        "    name: Benchmark (loopback)",
        "    closed_days: {holidays: null}",
        "    teams: [{id: kominfo, name: Kominfo}, {id: it-bench, name: Bench IT}]",
        "    agencies: [{id: bench, name: Bench agency, team: it-bench}]",
        "    counters:",
    ]
    targets = probe_targets(kinds, layout)
    # The ICMP check is written once and aliased: as flow mappings 10,000 targets are over
    # the loader's 100,000 keys-and-values limit (monitor/inventory/load.py MAX_NODES).
    icmp_check = f"&icmp [{{probe: icmp, settings: {{count: {count}}}}}]"
    for c in range(math.ceil(len(targets) / per_counter)):
        lines += [f"      - number: {c + 1}", "        agency: bench", "        devices:"]
        for d, (kind, addr) in enumerate(targets[c * per_counter : (c + 1) * per_counter]):
            if kind == "http":
                host = addr.split("//", 1)[1].split(":", 1)[0]
                check = f'["{addr}"]'
            elif kind == "tcp":
                host, port = addr.rsplit(":", 1)
                check = f'["tcp:{port}"]'
            else:
                host = addr
                check, icmp_check = icmp_check, "*icmp"
            lines.append(f"          - {{id: d{d}, address: {host}, checks: {check}}}")
    path.write_text("\n".join(lines) + "\n")
    return len(targets)


# ---- /metrics of mpp-monitor --------------------------------------------------------------

_PROBE_LABEL = re.compile(r'[{,]probe="([a-z]+)"')
_LE_LABEL = re.compile(r'le="([^"]+)"')


@dataclass
class Sample:
    """What the benchmark reads from one mpp-monitor /metrics body."""

    runs: dict[str, float] = field(default_factory=dict)  # by probe kind
    successes: float = 0.0
    success_series: int = 0
    lateness: list[tuple[float, float]] = field(default_factory=list)  # (le, cumulative)
    skipped: float = 0.0
    series: int = 0
    size: int = 0

    @property
    def total_runs(self) -> float:
        """Return runs over all kinds."""
        return sum(self.runs.values())


def family_lines(body: bytes, name: str) -> list[str]:
    """Return the sample lines of one family (contiguous in the text format), cheaply."""
    out: list[str] = []
    for prefix in (f"\n{name}{{", f"\n{name} ", f"\n{name}_"):
        start = body.find(prefix.encode())
        if start < 0:
            continue
        end = body.find(b"\n#", start + 1)
        chunk = body[start + 1 : end if end >= 0 else len(body)].decode()
        out.extend(line for line in chunk.splitlines() if line)
        break
    return out


def parse_metrics(body: bytes) -> Sample:
    """Pick the benchmark's figures out of an exposition body (without parsing all of it:
    the body holds some 240k lines at 10,000 targets and this process shares the CPUs)."""
    s = Sample(size=len(body))
    lines = body.count(b"\n") + (0 if body.endswith(b"\n") else 1)
    comments = body.count(b"\n#") + (1 if body.startswith(b"#") else 0)
    s.series = lines - comments - body.count(b"\n\n")
    for line in family_lines(body, "mpp_probe_runs_total"):
        m = _PROBE_LABEL.search(line)
        kind = m.group(1) if m else "?"
        s.runs[kind] = s.runs.get(kind, 0.0) + float(line.rsplit(" ", 1)[1])
    for line in family_lines(body, "probe_success"):
        s.success_series += 1
        s.successes += float(line.rsplit(" ", 1)[1])
    for line in family_lines(body, "mpp_scheduler_start_lateness_seconds"):
        m = _LE_LABEL.search(line)
        if m and line.startswith("mpp_scheduler_start_lateness_seconds_bucket"):
            s.lateness.append((float(m.group(1)), float(line.rsplit(" ", 1)[1])))
    for line in family_lines(body, "mpp_scheduler_runs_skipped_total"):
        s.skipped = float(line.rsplit(" ", 1)[1])
    s.lateness.sort()
    return s


def _delta(a: Sample, b: Sample) -> list[tuple[float, float]]:
    """Return the lateness histogram observed between two samples (cumulative pairs)."""
    if len(a.lateness) != len(b.lateness):
        return []
    return [(le, cb - ca) for (le, ca), (_, cb) in zip(a.lateness, b.lateness, strict=True)]


def quantile(q: float, a: Sample, b: Sample) -> float:
    """Return the q-quantile of lateness observed between two samples (histogram_quantile)."""
    return bucket_quantile(q, _delta(a, b), interpolate=True)


def bucket_bound(q: float, a: Sample, b: Sample) -> float:
    """Return the upper bound of the bucket holding the q-quantile (no interpolation)."""
    return bucket_quantile(q, _delta(a, b))


class Mpp:
    """One ``mpp-monitor run`` child and its /metrics."""

    def __init__(
        self,
        children: Children,
        tmp: Path,
        name: str,
        config: Path,
        source: Path | None = None,
        loop: str = "auto",
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"mpp-{name}.log"
        t0 = time.monotonic()
        argv: list[object] = [MPP]
        env = None
        if source is not None:
            # another source tree (e.g. `git archive COMMIT | tar -x -C DIR`), same venv
            argv = [PYTHON, "-m", "monitor"]
            env = {**os.environ, "PYTHONPATH": str(source)}
        self.proc = children.start(
            [*argv, "run", "--config", config, "--listen", f"127.0.0.1:{self.port}", *QUIET]
            + ([] if loop == "auto" else ["--loop", loop]),  # auto: the tree's default
            self.log,
            env=env,
            cwd=str(source) if source is not None else None,
        )
        self.started = t0
        self.session: aiohttp.ClientSession | None = None

    @property
    def pid(self) -> int:
        """Return the process id."""
        return self.proc.pid

    async def __aenter__(self) -> Mpp:
        self.session = aiohttp.ClientSession(auto_decompress=False)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.session is not None:
            await self.session.close()
        Children.stop(self.proc)

    async def ready(self, seconds: float) -> float:
        """Wait for /-/ready; return the seconds since start."""
        await wait_http(f"{self.url}/-/ready", seconds, self.proc, self.log)
        return time.monotonic() - self.started

    async def scrape(self, *, decode: bool = True) -> tuple[bytes, float, int]:
        """GET /metrics as Prometheus does (gzip); return (body, wall seconds, wire bytes).

        With ``decode=False`` the body is returned as received (this process shares the
        CPUs with the service: a load scraper should not spend them decompressing).
        """
        assert self.session is not None
        t0 = time.perf_counter()
        async with self.session.get(
            f"{self.url}/metrics",
            headers={"Accept-Encoding": "gzip"},
            timeout=aiohttp.ClientTimeout(total=60),
        ) as r:
            r.raise_for_status()
            raw = await r.read()
            gz = r.headers.get("Content-Encoding") == "gzip"
        wall = time.perf_counter() - t0
        return (gzip.decompress(raw) if gz and decode else raw), wall, len(raw)

    async def sample(self) -> Sample:
        """Scrape and parse."""
        body, _, _ = await self.scrape()
        return parse_metrics(body)


# ---- blackbox_exporter ----------------------------------------------------------------------


def start_blackbox(children: Children, tmp: Path, binary: str, timeout: float) -> tuple[int, str]:
    """Start blackbox_exporter on a free loopback port; return (pid, base URL)."""
    conf = tmp / "blackbox.yml"
    conf.write_text(BLACKBOX_CONFIG.format(timeout=f"{timeout:g}"))
    port = free_port()
    proc = children.start(
        [binary, f"--config.file={conf}", f"--web.listen-address=127.0.0.1:{port}", *BB_QUIET],
        tmp / "blackbox.log",
    )
    return proc.pid, f"http://127.0.0.1:{port}"


def stagger(key: str, interval: float) -> float:
    """Return a stable offset in [0, interval) for a target, as Prometheus spreads scrapes."""
    return (zlib.crc32(key.encode()) % 1_000_000) / 1_000_000 * interval


class Driver:
    """Prometheus-like driver: one /probe request per target per interval, staggered."""

    def __init__(
        self, base: str, targets: Sequence[tuple[str, str]], interval: float, timeout: float
    ) -> None:
        self.urls = [
            URL(f"{base}/probe?module={MODULES[k]}&target={quote(t, safe='')}", encoded=True)
            for k, t in targets
        ]
        self.offsets = [stagger(t, interval) for _, t in targets]
        self.interval = interval
        self.timeout = timeout
        self.done = 0
        self.ok = 0
        self.errors = 0
        self.max_in_flight = 0
        self._in_flight = 0

    async def _one(self, session: aiohttp.ClientSession, url: URL) -> None:
        self._in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            async with session.get(url) as r:
                body = await r.read()
            self.done += 1
            if b"\nprobe_success 1" in body:
                self.ok += 1
        except (aiohttp.ClientError, OSError, TimeoutError):
            self.errors += 1
        finally:
            self._in_flight -= 1

    async def run(self, seconds: float) -> None:
        """Probe every target on its schedule for ``seconds``, then wait for in-flight ones."""
        headers = {"X-Prometheus-Scrape-Timeout-Seconds": f"{self.timeout + 1:g}"}
        connector = aiohttp.TCPConnector(limit=512)
        tasks: set[asyncio.Task[None]] = set()
        async with aiohttp.ClientSession(
            connector=connector,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=self.timeout + 5),
        ) as session:
            start = time.monotonic()
            end = start + seconds
            heap = [(start + off, i) for i, off in enumerate(self.offsets)]
            heapq.heapify(heap)
            while heap and heap[0][0] < end:
                now = time.monotonic()
                while heap and heap[0][0] <= now:
                    due, i = heapq.heappop(heap)
                    task = asyncio.create_task(self._one(session, self.urls[i]))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    heapq.heappush(heap, (due + self.interval, i))
                await asyncio.sleep(max(0.0, min(heap[0][0] - time.monotonic(), 0.05)))
            if tasks:
                await asyncio.wait(tasks, timeout=self.timeout + 10)


# ---- runs -----------------------------------------------------------------------------------


@dataclass
class KindResult:
    """CPU per 1,000 probes for one probe kind on both sides."""

    kind: str
    targets: int
    mpp_cpu: float = math.nan  # CPU-seconds per 1,000 probes
    mpp_sys: float = math.nan  # of which system (kernel) time
    mpp_probes: int = 0
    mpp_success: float = math.nan
    mpp_p99: float = math.nan
    mpp_rss: float = math.nan
    bb_cpu: float = math.nan
    bb_sys: float = math.nan
    bb_probes: int = 0
    bb_success: float = math.nan
    bb_rss: float = math.nan
    driver_cpu: float = math.nan
    driver_in_flight: int = 0
    targets_cpu: float = math.nan  # the loopback servers' CPU per 1,000 probes (mpp run)

    @property
    def ratio(self) -> float:
        """Return mpp-monitor's CPU per probe over blackbox_exporter's."""
        return self.mpp_cpu / self.bb_cpu if self.bb_cpu > 0 else math.nan


@dataclass
class Settings:
    """Resolved options."""

    kinds: list[str]
    kind_targets: int
    kind_window: float
    targets: int
    duration: float
    interval: float
    timeout: float
    icmp_count: int
    mix: dict[str, int]
    scale: bool
    source: Path | None = None  # run mpp-monitor from this source tree instead
    loop: str = "auto"  # mpp-monitor run --loop


async def run_mpp_kind(
    children: Children, tmp: Path, layout: Layout, s: Settings, res: KindResult
) -> None:
    """Run mpp-monitor on targets of one kind; fill the mpp side of ``res``."""
    config = tmp / f"inventory-{res.kind}.yaml"
    write_inventory(config, [res.kind] * res.targets, layout, s.interval, s.timeout, s.icmp_count)
    async with Mpp(children, tmp, res.kind, config, s.source, s.loop) as mpp:
        await mpp.ready(120)
        await asyncio.sleep(s.interval + 2)  # every target has run once: steady state
        first = await mpp.sample()
        cpu0, tcpu0, t0 = cpu_times(mpp.pid), cpu_seconds(layout.pid), time.monotonic()
        # A scrape per interval inside the window, as Prometheus would do.
        while time.monotonic() - t0 + s.interval <= s.kind_window:
            await asyncio.sleep(s.interval)
            await mpp.scrape()
        await asyncio.sleep(max(0.0, s.kind_window - (time.monotonic() - t0)))
        cpu1, tcpu1 = cpu_times(mpp.pid), cpu_seconds(layout.pid)
        last = await mpp.sample()
        res.mpp_rss = rss_mib(mpp.pid)
    probes = last.total_runs - first.total_runs
    res.mpp_probes = int(probes)
    if probes > 0:
        res.mpp_cpu = (sum(cpu1) - sum(cpu0)) / probes * 1000
        res.mpp_sys = (cpu1[1] - cpu0[1]) / probes * 1000
        res.targets_cpu = (tcpu1 - tcpu0) / probes * 1000
    res.mpp_success = last.successes / max(1, last.success_series)
    res.mpp_p99 = quantile(0.99, first, last)


async def run_blackbox_kind(
    children: Children, tmp: Path, layout: Layout, s: Settings, res: KindResult, binary: str
) -> None:
    """Drive blackbox_exporter on targets of one kind; fill the blackbox side of ``res``."""
    pid, base = start_blackbox(children, tmp, binary, s.timeout)
    proc = children.procs[-1]
    try:
        await wait_http(f"{base}/-/healthy", 30, proc, tmp / "blackbox.log")
        targets = probe_targets([res.kind] * res.targets, layout)
        driver = Driver(base, targets, s.interval, s.timeout)
        warm = s.interval + 2
        run = asyncio.create_task(driver.run(warm + s.kind_window))
        try:
            await asyncio.sleep(warm)
            done0, ok0 = driver.done, driver.ok
            cpu0, own0 = cpu_times(pid), own_cpu()
            await asyncio.sleep(s.kind_window)
            cpu1, own1 = cpu_times(pid), own_cpu()
            done1, ok1 = driver.done, driver.ok
            res.bb_rss = rss_mib(pid)
        finally:
            await run
    finally:
        Children.stop(proc)
    probes = done1 - done0
    res.bb_probes = probes
    if probes > 0:
        res.bb_cpu = (sum(cpu1) - sum(cpu0)) / probes * 1000
        res.bb_sys = (cpu1[1] - cpu0[1]) / probes * 1000
        res.driver_cpu = (own1 - own0) / probes * 1000
        res.bb_success = (ok1 - ok0) / probes
    res.driver_in_flight = driver.max_in_flight
    if driver.errors:
        print(f"  note: {driver.errors} /probe requests failed", flush=True)


@dataclass
class Phase:
    """One phase of the scale run: a scrape period (None: no scraper) and its figures."""

    name: str
    every: float | None
    cpu: float = math.nan  # CPU-seconds in the phase
    wall: float = math.nan
    probes: float = 0.0
    p50: float = math.nan
    p99: float = math.nan
    p99_bucket: float = math.nan
    skipped: float = 0.0
    scrape_walls: list[float] = field(default_factory=list)
    scrape_cpu: float = 0.0  # service CPU-seconds while a scrape was being served
    scrape_bytes: list[int] = field(default_factory=list)

    @property
    def cpu_pct(self) -> float:
        """Return CPU use in % of one core."""
        return 100 * self.cpu / self.wall if self.wall > 0 else math.nan

    @property
    def cpu_per_1000(self) -> float:
        """Return CPU-seconds per 1,000 probes."""
        return self.cpu / self.probes * 1000 if self.probes > 0 else math.nan


@dataclass
class ScaleResult:
    """Figures of the scale run."""

    targets: int
    kinds: dict[str, int]
    startup: float = math.nan
    phases: list[Phase] = field(default_factory=list)
    rss: list[tuple[float, str, float]] = field(default_factory=list)  # (t, phase, MiB)
    series: int = 0
    size: int = 0
    wire: int = 0
    targets_cpu_pct: float = math.nan


async def run_scale(children: Children, tmp: Path, layout: Layout, s: Settings) -> ScaleResult:
    """Run mpp-monitor on the mixed scale inventory through its phases."""
    kinds = mix_kinds(s.targets, s.mix)
    config = tmp / "inventory-scale.yaml"
    write_inventory(config, kinds, layout, s.interval, s.timeout, s.icmp_count)
    res = ScaleResult(s.targets, {k: kinds.count(k) for k in s.mix})
    phase_name = "start"
    t_start = time.monotonic()
    async with Mpp(children, tmp, "scale", config, s.source, s.loop) as mpp:

        async def sample_rss() -> None:
            while True:
                with contextlib.suppress(OSError):
                    res.rss.append((time.monotonic() - t_start, phase_name, rss_mib(mpp.pid)))
                await asyncio.sleep(RSS_EVERY)

        rss_task = asyncio.create_task(sample_rss())
        try:
            res.startup = await mpp.ready(300)
            phase_name = "warm-up"
            await asyncio.sleep(s.interval + 5)
            body, _, wire = await mpp.scrape()
            res.series, res.size, res.wire = parse_metrics(body).series, len(body), wire
            phase_len = s.duration / 3
            await asyncio.sleep(3)  # the first scrape builds every label text: let it pass
            prev = await mpp.sample()
            t_targets0, tw0 = cpu_seconds(layout.pid), time.monotonic()
            for name, every in (("no scrapes", None), ("scrape 5 s", 5.0), ("scrape 1 s", 1.0)):
                phase_name = name
                ph = Phase(name, every)
                cpu0, t0 = cpu_seconds(mpp.pid), time.monotonic()
                end = t0 + phase_len
                # Clear of the boundary sample, so that a service sharing a recent rendering
                # between close scrapes still renders the phase's first one.
                at = t0 + SETTLE
                while every is not None and at < end:
                    await asyncio.sleep(max(0.0, at - time.monotonic()))
                    c0 = cpu_seconds(mpp.pid)
                    _, wall, wire = await mpp.scrape(decode=False)
                    ph.scrape_cpu += cpu_seconds(mpp.pid) - c0
                    ph.scrape_walls.append(wall)
                    ph.scrape_bytes.append(wire)
                    at += every
                    while at < time.monotonic():  # a slow scrape: skip the missed slots
                        at += every
                await asyncio.sleep(max(0.0, end - time.monotonic()))
                cpu1, t1 = cpu_seconds(mpp.pid), time.monotonic()
                cur = await mpp.sample()
                ph.cpu, ph.wall = cpu1 - cpu0, t1 - t0
                ph.probes = cur.total_runs - prev.total_runs
                ph.p50, ph.p99 = quantile(0.5, prev, cur), quantile(0.99, prev, cur)
                ph.p99_bucket = bucket_bound(0.99, prev, cur)
                ph.skipped = cur.skipped - prev.skipped
                res.phases.append(ph)
                prev = cur
            res.targets_cpu_pct = (
                100 * (cpu_seconds(layout.pid) - t_targets0) / (time.monotonic() - tw0)
            )
        finally:
            rss_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await rss_task
            with contextlib.suppress(OSError):
                res.rss.append((time.monotonic() - t_start, "end", rss_mib(mpp.pid)))
    return res


# ---- report ---------------------------------------------------------------------------------


def ms(x: float) -> str:
    """Format seconds as milliseconds."""
    return "n/a" if math.isnan(x) else f"{x * 1000:.1f}"


def f3(x: float) -> str:
    """Format with 3 decimals."""
    return "n/a" if math.isnan(x) else f"{x:.3f}"


def verdict(ok: bool | None) -> str:
    """Return PASS/MISS (or n/a)."""
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


def report_kinds(results: list[KindResult], s: Settings) -> None:
    """Print the per-kind table."""
    print()
    print(
        f"== CPU-seconds per 1,000 probes ({s.interval:g} s interval, {s.kind_window:g} s window)"
    )
    head = f"{'kind':<6}{'targets':>8}{'mpp':>8}{'(sys)':>8}{'probes':>8}{'ok':>6}{'p99 ms':>8}"
    head += f"{'blackbox':>10}{'(sys)':>8}{'probes':>8}{'ok':>6}{'ratio':>7}{'driver':>8}"
    head += f"{'targets':>8}"
    print(head)
    for r in results:
        mok = "n/a" if math.isnan(r.mpp_success) else f"{r.mpp_success:.0%}"
        bok = "n/a" if math.isnan(r.bb_success) else f"{r.bb_success:.0%}"
        print(
            f"{r.kind:<6}{r.targets:>8}{f3(r.mpp_cpu):>8}{f3(r.mpp_sys):>8}{r.mpp_probes:>8}"
            f"{mok:>6}{ms(r.mpp_p99):>8}{f3(r.bb_cpu):>10}{f3(r.bb_sys):>8}{r.bb_probes:>8}{bok:>6}"
            f"{f3(r.ratio):>7}{f3(r.driver_cpu):>8}{f3(r.targets_cpu):>8}"
        )
    print(
        "  mpp = the whole mpp-monitor process (probes, scheduler, state, one /metrics scrape\n"
        "  per interval); blackbox = blackbox_exporter serving one /probe per probe; ratio =\n"
        "  mpp/blackbox (target <= 0.25); driver = this script's Prometheus-like /probe client\n"
        "  (not charged to blackbox); targets = the loopback servers (mpp run, not charged).\n"
        f"  ICMP: {s.icmp_count} echo per probe on both sides. RSS MiB (mpp/blackbox): "
        + ", ".join(f"{r.kind} {r.mpp_rss:.0f}/{r.bb_rss:.0f}" for r in results)
    )
    print(
        "  /probe requests in flight at most (driver): "
        + ", ".join(f"{r.kind} {r.driver_in_flight}" for r in results)
    )


def report_scale(res: ScaleResult, s: Settings, kinds: list[KindResult]) -> None:
    """Print the scale-run tables."""
    mix = ", ".join(f"{k} {n}" for k, n in res.kinds.items())
    print()
    print(f"== {res.targets} targets ({mix}), {s.interval:g} s interval, timeout {s.timeout:g} s")
    print(
        f"start-up to ready: {res.startup:.1f} s; /metrics: {res.series} series, "
        f"{res.size / 1e6:.1f} MB ({res.wire / 1e6:.2f} MB on the wire, "
        f"{'gzip' if res.wire < res.size else 'uncompressed: loopback'})"
    )
    head = f"{'phase':<12}{'wall s':>7}{'CPU %':>7}{'CPU/1k':>8}{'probes':>8}{'p50 ms':>8}"
    head += f"{'p99 ms':>8}{'(bucket)':>9}{'skipped':>8}{'scrapes':>8}{'scrape ms p50/max':>19}"
    print(head)
    for ph in res.phases:
        walls = sorted(ph.scrape_walls)
        sw = f"{ms(walls[len(walls) // 2])}/{ms(walls[-1])}" if walls else "-"
        print(
            f"{ph.name:<12}{ph.wall:>7.1f}{ph.cpu_pct:>7.1f}{f3(ph.cpu_per_1000):>8}"
            f"{ph.probes:>8.0f}{ms(ph.p50):>8}{ms(ph.p99):>8}{'<=' + ms(ph.p99_bucket):>9}"
            f"{ph.skipped:>8.0f}{len(ph.scrape_walls):>8}{sw:>19}"
        )
    base = res.phases[0] if res.phases else None
    per_scrape: list[float] = []
    for ph in res.phases[1:]:
        if base is None or not ph.scrape_walls:
            continue
        # CPU while each scrape was served, less what probing costs in that time
        extra = ph.scrape_cpu - base.cpu / base.wall * sum(ph.scrape_walls)
        per = extra / len(ph.scrape_walls)
        per_scrape.append(per)
        at50k = per * 50_000 / res.series if res.series else math.nan
        ok = None if per <= 0 else at50k <= 0.1
        print(
            f"  /metrics CPU per scrape ({ph.name}): "
            f"{per:.3f} s at {res.series} series = {at50k:.3f} s per 50k series "
            f"(target <= 0.1 s: {verdict(ok)})"
        )
    for ph in res.phases[1:]:
        print(
            f"  lateness p99 while scraped ({ph.name}): {ms(ph.p99)} ms "
            f"(target <= 20 ms: {verdict(ph.p99 <= 0.02)})"
        )
    weights = {r.kind: r.bb_cpu for r in kinds if not math.isnan(r.bb_cpu)}
    if base is not None and set(res.kinds) <= set(weights):
        bb = sum(weights[k] * n for k, n in res.kinds.items()) / max(1, res.targets)
        rows = [(ph.name, ph.cpu_per_1000) for ph in res.phases]
        if per_scrape and base.probes > 0:
            # Prometheus scraping once per probe interval: the no-scrape rate plus one
            # scrape's CPU per interval's worth of probes
            per_interval = base.probes / base.wall * s.interval
            rows.append(
                (
                    f"one scrape per {s.interval:g} s",
                    base.cpu_per_1000 + max(per_scrape) / per_interval * 1000,
                )
            )
        print("  whole service vs blackbox_exporter, CPU-s per 1,000 probes (blackbox: the")
        print("  per-kind figures above weighted by this mix):")
        for name, mine in rows:
            ratio = mine / bb
            print(
                f"    {name:<20} {mine:.3f} / {bb:.3f} = {ratio:.2f} "
                f"(target <= 0.25: {verdict(ratio <= 0.25)})"
            )
    print(f"  loopback target servers: {res.targets_cpu_pct:.0f}% CPU during the phases")
    print(
        "  CPU % is of one core; lateness is actual - planned start of each run, from the\n"
        "  histogram's increase over the phase (interpolated as histogram_quantile does; the\n"
        "  bucket bound is the honest upper limit). Every phase, 'no scrapes' included, also\n"
        "  holds the benchmark's own two boundary scrapes that read the histogram. Scrapes\n"
        "  start on a fixed period, one at a time (a slow one skips the missed slots).\n"
        "  CPU per scrape = service CPU while scrapes were served, less the no-scrape rate."
    )
    print()
    print(f"RSS over time (MiB, sampled every {RSS_EVERY:g} s):")
    print(f"{'phase':<12}{'from s':>8}{'to s':>7}{'first':>8}{'last':>8}{'max':>8}")
    for name in dict.fromkeys(n for _, n, _ in res.rss):
        rows = [(t, mib) for t, n, mib in res.rss if n == name]
        print(
            f"{name:<12}{rows[0][0]:>8.0f}{rows[-1][0]:>7.0f}{rows[0][1]:>8.1f}"
            f"{rows[-1][1]:>8.1f}{max(m for _, m in rows):>8.1f}"
        )


def machine() -> str:
    """Describe the machine in one line."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores, {model}, Linux {platform.release()}, Python {sys.version[:6]}"


# ---- main -----------------------------------------------------------------------------------


def parse_mix(text: str) -> dict[str, int]:
    """Parse "icmp=45,tcp=45,http=10"."""
    out: dict[str, int] = {}
    for part in text.split(","):
        k, _, v = part.partition("=")
        if k.strip() not in KINDS or not v.strip().isdigit():
            raise argparse.ArgumentTypeError(f"bad mix entry {part!r}: expected KIND=WEIGHT")
        out[k.strip()] = int(v)
    return out


def settings_from(argv: Sequence[str] | None) -> Settings:
    """Parse the command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small N, short windows (smoke run)")
    p.add_argument("--kinds", default="http,tcp,icmp", help="kinds to compare, or 'none'")
    p.add_argument("--kind-targets", type=int, default=None, help="targets per kind run (2000)")
    p.add_argument("--kind-window", type=float, default=None, help="seconds measured per kind")
    p.add_argument("--targets", type=int, default=None, help="targets in the scale run (10000)")
    p.add_argument("--duration", type=float, default=None, help="scale run phases, s (90)")
    p.add_argument("--interval", type=float, default=None, help="probe interval, s (15)")
    p.add_argument("--icmp-count", type=int, default=1, help="echoes per ICMP probe (1)")
    p.add_argument("--mix", type=parse_mix, default=parse_mix("icmp=45,tcp=45,http=10"))
    p.add_argument("--no-scale", action="store_true", help="skip the scale run")
    p.add_argument(
        "--source",
        type=Path,
        default=None,
        metavar="DIR",
        help="run mpp-monitor from this source tree (python -m monitor, PYTHONPATH=DIR), "
        "e.g. an older commit unpacked with git archive, to compare versions",
    )
    add_loop_argument(p)
    a = p.parse_args(argv)
    kinds = [] if a.kinds == "none" else [k.strip() for k in a.kinds.split(",") if k.strip()]
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        p.error(f"unknown kinds {bad}: choose from {', '.join(KINDS)}")
    q = a.quick
    interval = a.interval or (5.0 if q else 15.0)
    return Settings(
        kinds=kinds,
        kind_targets=min(MAX_TARGETS, a.kind_targets or (200 if q else 2000)),
        kind_window=min(MAX_SECONDS, a.kind_window or (10.0 if q else 45.0)),
        targets=min(MAX_TARGETS, a.targets or (1000 if q else 10_000)),
        duration=min(MAX_SECONDS, a.duration or (15.0 if q else 90.0)),
        interval=interval,
        timeout=min(5.0, interval / 2),
        icmp_count=max(1, min(a.icmp_count, 10)),
        mix=a.mix,
        scale=not a.no_scale,
        source=a.source.resolve() if a.source else None,
        loop=a.loop,
    )


def add_loop_argument(p: argparse.ArgumentParser) -> None:
    """``--loop``: the event loop mpp-monitor runs on (its `run --loop`)."""
    p.add_argument(
        "--loop",
        choices=("auto", "asyncio", "uvloop"),
        default="auto",
        help="mpp-monitor's event loop (run --loop; default auto: uvloop when installed)",
    )


async def amain(s: Settings) -> int:
    """Run everything; return the exit status."""
    nofile = raise_open_files()
    root = os.geteuid() == 0
    print(f"compare_blackbox: {time.strftime('%Y-%m-%d %H:%M %Z')}; {machine()}")
    print(f"open-files limit {nofile}; running as {'root' if root else 'non-root'}")
    if s.source is not None:
        print(f"mpp-monitor from {s.source}")
    print(f"mpp-monitor event loop: {s.loop}")
    if not MPP.exists():
        print(f"{MPP} missing: run ./tasks setup first", file=sys.stderr)
        return 1
    kinds = list(s.kinds)
    if not root and ("icmp" in kinds or "icmp" in s.mix):
        print("not root: ICMP needs raw sockets; leaving icmp out", file=sys.stderr)
        kinds = [k for k in kinds if k != "icmp"]
        s.mix.pop("icmp", None)
    binary = find_blackbox() if kinds else None
    if kinds and binary is None:
        print("blackbox_exporter unavailable: comparing nothing, running the scale part only")
        kinds = []
    budget = len(kinds) * 2 * (s.kind_window + s.interval + 30) + s.duration + s.interval + 400
    children = Children()
    results: list[KindResult] = []
    scale: ScaleResult | None = None
    with tempfile.TemporaryDirectory(prefix="mpp-bench-") as tmpdir:
        tmp = Path(tmpdir)
        try:
            layout = start_targets(children, tmp, budget)
            print(f"targets: {len(layout.http)} HTTP + {len(layout.tcp)} TCP servers on 127.77.0.x")
            for kind in kinds:
                r = KindResult(kind, s.kind_targets)
                print(f"-- {kind}: mpp-monitor, {r.targets} targets ...", flush=True)
                await run_mpp_kind(children, tmp, layout, s, r)
                print(f"-- {kind}: blackbox_exporter, {r.targets} targets ...", flush=True)
                assert binary is not None
                await run_blackbox_kind(children, tmp, layout, s, r, binary)
                results.append(r)
            if kinds:
                report_kinds(results, s)
            if s.scale and s.mix:
                print(f"-- scale: mpp-monitor, {s.targets} targets ...", flush=True)
                scale = await run_scale(children, tmp, layout, s)
                report_scale(scale, s, results)
        except RuntimeError as exc:
            print(f"compare_blackbox: {exc}", file=sys.stderr)
            return 1
        finally:
            children.stop_all()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    return asyncio.run(amain(settings_from(argv)))


if __name__ == "__main__":
    sys.exit(main())
