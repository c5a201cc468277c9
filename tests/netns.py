"""Network-namespace topologies for tests: namespaces, veth links, routes, nft; always removed.

Usage (root only; see ``why_no_netns`` and ``requires_netns``)::

    with Topology() as topo:
        prober = topo.namespace("prober")
        hub = topo.namespace("hub")
        topo.link(prober, hub, "10.200.0.1/24", "10.200.0.2/24")
        prober.ip("route", "add", "10.201.0.0/16", "via", "10.200.0.2")
        hub.drop_random(30, "ip daddr 10.201.0.9 icmp type echo-request")
        result = prober.run(some_coroutine_function, arg)  # runs inside the namespace

Everything a ``Topology`` creates lives inside namespaces named ``mppt-<random>-<role>``:
deleting the namespaces removes their veths, addresses, routes and nft tables, so the root
namespace is never touched. ``close()`` (also on exceptions, and at interpreter exit as a
safety net) deletes them and checks they are gone. A marker file per namespace records the
creating process; namespaces left by a killed test run are removed by the next ``Topology``.

Code runs inside a namespace in two ways:

* ``Namespace.run(fn, *args)`` calls ``fn`` in a fresh thread switched into the namespace
  with setns(2) (only that thread moves; sockets keep the namespace they were created in).
  Coroutine functions are run with ``asyncio.run`` in that thread. Fast: no new interpreter.
* ``Namespace.python(code)`` / ``Namespace.exec(argv)`` run a subprocess under
  ``ip netns exec``, which also bind-mounts ``/etc/netns/<name>/hosts`` (see ``hosts``) over
  ``/etc/hosts`` and allows dropping capabilities (``capsh``) for privilege tests.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import inspect
import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

PREFIX = "mppt-"
REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
_MARKERS = Path("/run/mppt-netns")
_NETNS_DIR = Path("/run/netns")
_ETC_NETNS = Path("/etc/netns")
_CLONE_NEWNET = 0x40000000


def why_no_netns() -> str | None:
    """Return why network namespaces cannot be used here, or None when they can."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces (CI runs as root)"
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return f"needs the {tool!r} command (Debian packages iproute2, nftables)"
    return None


requires_netns = pytest.mark.skipif(why_no_netns() is not None, reason=str(why_no_netns()))
"""Mark a test (or module, via ``pytestmark``) that builds a ``Topology``."""


def _run(
    argv: Sequence[str], *, input: str | None = None, timeout: float = 30.0, check: bool = True
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        list(argv), input=input, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"command failed ({proc.returncode}): {' '.join(argv)}\n"
            f"stdout: {proc.stdout.strip()}\nstderr: {proc.stderr.strip()}"
        )
    return proc


def list_namespaces() -> list[str]:
    """Return the names of all named network namespaces (``ip netns list``)."""
    out = _run(["ip", "netns", "list"]).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cleanup_stale(prefix: str = PREFIX) -> list[str]:
    """Delete namespaces left by test processes that died; return their names."""
    removed: list[str] = []
    if not _MARKERS.is_dir():
        return removed
    existing = set(list_namespaces())
    for marker in _MARKERS.iterdir():
        if not marker.name.startswith(prefix):
            continue
        try:
            pid = int(marker.read_text().strip() or "0")
        except (OSError, ValueError):
            pid = 0
        if pid and _pid_alive(pid):
            continue
        if marker.name in existing:
            _run(["ip", "netns", "del", marker.name], check=False)
            removed.append(marker.name)
        shutil.rmtree(_ETC_NETNS / marker.name, ignore_errors=True)
        marker.unlink(missing_ok=True)
    _remove_if_empty(_ETC_NETNS)
    return removed


def _remove_if_empty(directory: Path) -> None:
    with contextlib.suppress(OSError):
        directory.rmdir()  # only succeeds when empty


_libc = ctypes.CDLL(None, use_errno=True)


def _enter_netns(name: str) -> None:
    """Move the calling thread (only it) into the named network namespace."""
    fd = os.open(_NETNS_DIR / name, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, _CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({name}): {os.strerror(err)}")
    finally:
        os.close(fd)


class Namespace:
    """One network namespace of a ``Topology``; helpers run commands inside it."""

    def __init__(self, topology: Topology, name: str, role: str) -> None:
        self.topology = topology
        self.name = name
        self.role = role
        self._veths = 0

    def __repr__(self) -> str:
        return f"Namespace({self.name!r})"

    # -- commands ---------------------------------------------------------------------------

    def exec(
        self,
        argv: Sequence[str],
        *,
        input: str | None = None,
        timeout: float = 60.0,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside the namespace with ``ip netns exec`` (stdout/stderr captured)."""
        return _run(
            ["ip", "netns", "exec", self.name, *argv], input=input, timeout=timeout, check=check
        )

    def ip(self, *args: str) -> str:
        """Run ``ip -n NAME ARGS`` and return its stdout."""
        return _run(["ip", "-n", self.name, *args]).stdout

    def ip_batch(self, commands: Iterable[str]) -> None:
        """Run many ``ip`` commands (one per item, without the leading ``ip``) in one process."""
        script = "\n".join(commands) + "\n"
        _run(["ip", "-n", self.name, "-batch", "-"], input=script)

    def sysctl(self, **settings: str | int) -> None:
        """Set sysctls inside the namespace: ``ns.sysctl(**{"net.ipv4.ip_forward": 1})``."""
        args = [f"{k}={v}" for k, v in settings.items()]
        self.exec(["sysctl", "-q", "-w", *args])

    def sysctl_get(self, key: str) -> str:
        """Return one sysctl's value as seen inside the namespace."""
        return self.exec(["sysctl", "-n", key]).stdout.strip()

    def forwarding(self, enabled: bool = True) -> None:
        """Turn IPv4 and IPv6 forwarding on (a router namespace) or off."""
        v = int(enabled)
        self.sysctl(
            **{"net.ipv4.ip_forward": v, "net.ipv6.conf.all.forwarding": v},
        )

    def ping_group_range(self, low: int = 0, high: int = 2147483647) -> None:
        """Allow datagram ICMP sockets for groups low..high (``net.ipv4.ping_group_range``)."""
        self.sysctl(**{"net.ipv4.ping_group_range": f"{low} {high}"})

    def add_address(self, iface: str, cidr: str) -> None:
        """Add an address (IPv6 without duplicate address detection, so it is usable at once)."""
        extra = ["nodad"] if ":" in cidr else []
        self.ip("addr", "add", cidr, "dev", iface, *extra)

    def add_addresses(self, iface: str, cidrs: Iterable[str]) -> None:
        """Add many addresses to one interface in a single ``ip -batch``."""
        self.ip_batch(f"addr add {c} dev {iface}" + (" nodad" if ":" in c else "") for c in cidrs)

    def route(self, *spec: str) -> None:
        """Add a route: ``ns.route("10.9.0.0/16", "via", "10.1.0.2")`` (IPv6 detected)."""
        family = ["-6"] if any(":" in s for s in spec) else []
        self.ip(*family, "route", "add", *spec)

    def nft(self, script: str) -> None:
        """Load an nft script inside the namespace (``nft -f -``)."""
        self.exec(["nft", "-f", "-"], input=script)

    def nft_counter(self, table: str, name: str, family: str = "inet") -> int:
        """Return the packet count of a named nft counter."""
        out = self.exec(["nft", "-j", "list", "counter", family, table, name]).stdout
        for item in json.loads(out)["nftables"]:
            if "counter" in item:
                return int(item["counter"]["packets"])
        raise LookupError(f"counter {family} {table} {name} not found in {self.name}")

    def drop_random(self, percent: int, match: str, *, hook: str = "prerouting") -> str:
        """Drop ``percent``% of packets matching ``match`` (an nft expression), one direction.

        Example: ``hub.drop_random(30, "ip daddr 10.201.0.9 icmp type echo-request")``.
        Uses ``numgen random mod 100 < N drop`` in its own table ``mppt_loss_<hook>``, with a
        named counter ``dropped`` (see ``dropped``). Returns the table name.
        """
        if not 0 <= percent <= 100:
            raise ValueError("percent must be within 0..100")
        table = f"mppt_loss_{hook}"
        self.nft(
            f"table inet {table} {{\n"
            f"  counter dropped {{ }}\n"
            f"  chain c {{ type filter hook {hook} priority -10; }}\n"
            f"}}\n"
            f"add rule inet {table} c {match} numgen random mod 100 < {percent} "
            f'counter name "dropped" drop\n'
        )
        return table

    def dropped(self, hook: str = "prerouting") -> int:
        """Return how many packets ``drop_random`` on that hook has dropped so far."""
        return self.nft_counter(f"mppt_loss_{hook}", "dropped")

    def hosts(self, entries: Mapping[str, Sequence[str]]) -> None:
        """Write /etc/netns/NAME/hosts (name -> addresses); seen only by ``exec``/``python``."""
        d = _ETC_NETNS / self.name
        d.mkdir(parents=True, exist_ok=True)
        lines = [f"{addr} {host}" for host, addrs in entries.items() for addr in addrs]
        (d / "hosts").write_text("\n".join(lines) + "\n", encoding="utf-8")

    # -- running Python inside ----------------------------------------------------------------

    def run(self, fn: Callable[..., Any], *args: Any, timeout: float = 60.0) -> Any:
        """Call ``fn(*args)`` in a thread inside this namespace and return its result.

        A coroutine function is run with ``asyncio.run`` (bounded by ``timeout``) in that
        thread, so every socket it opens belongs to this namespace (threads it starts, such
        as the loop's executor, inherit it). Exceptions propagate. Only the network
        namespace changes: files are the host's (``/etc/hosts`` too), and ``/proc/self/net``
        still shows the main thread's namespace (``/proc/thread-self/net`` shows this one).
        """
        box: dict[str, Any] = {}

        def main() -> None:
            try:
                _enter_netns(self.name)
                result = fn(*args)
                if inspect.iscoroutine(result):
                    result = asyncio.run(asyncio.wait_for(result, timeout))
                box["result"] = result
            except BaseException as exc:  # handed to the caller's thread
                box["error"] = exc

        thread = threading.Thread(target=main, name=f"netns-{self.name}", daemon=True)
        thread.start()
        thread.join(timeout + 10)
        if thread.is_alive():
            raise TimeoutError(f"code in namespace {self.name} still running after {timeout}s")
        if "error" in box:
            raise box["error"]
        return box["result"]

    def python(
        self,
        code: str,
        *,
        input: str | None = None,
        timeout: float = 60.0,
        wrapper: Sequence[str] = (),
    ) -> str:
        """Run ``python -c code`` (the test's interpreter, repo on sys.path) inside; return stdout.

        ``wrapper`` prefixes the command, e.g. ``("capsh", "--drop=cap_net_raw", "--")``
        (then the Python command is passed through ``-c`` of capsh's shell).
        """
        env_path = f"PYTHONPATH={REPO}"
        cmd = [PYTHON, "-c", code]
        if wrapper:
            quoted = " ".join(_shquote(c) for c in cmd)
            argv = ["env", env_path, *wrapper, "-c", quoted]
        else:
            argv = ["env", env_path, *cmd]
        return self.exec(argv, input=input, timeout=timeout).stdout


def _shquote(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"


_open_topologies: set[Topology] = set()


@atexit.register
def _close_leftovers() -> None:
    for topo in list(_open_topologies):
        topo.close()


class Topology:
    """A set of namespaces and links, all deleted by ``close()`` (use it as a context manager)."""

    def __init__(self, prefix: str = PREFIX) -> None:
        reason = why_no_netns()
        if reason is not None:
            raise RuntimeError(reason)
        cleanup_stale(prefix)
        self.prefix = prefix
        self.token = secrets.token_hex(3)
        self.namespaces: list[Namespace] = []
        _open_topologies.add(self)

    def __enter__(self) -> Topology:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def namespace(self, role: str, *, forwarding: bool = False) -> Namespace:
        """Create a namespace ``mppt-<token>-<role>`` with lo up and ICMP errors not rate-limited.

        ICMP error rate limits are off so a router answers every packet it rejects (tests
        count them; note that ``ip route add unreachable`` errors are still limited by the
        kernel's global route.error_cost, about one per second per source after a burst of
        five: reject with nft instead). ``forwarding=True`` makes it a router.
        """
        name = f"{self.prefix}{self.token}-{role}"[:40]
        if any(ns.name == name for ns in self.namespaces):
            raise ValueError(f"role {role!r} already used in this topology")
        _MARKERS.mkdir(parents=True, exist_ok=True)
        # the marker comes first: a namespace never exists without its owner recorded
        (_MARKERS / name).write_text(str(os.getpid()))
        ns = Namespace(self, name, role)
        self.namespaces.append(ns)
        _run(["ip", "netns", "add", name])
        ns.ip("link", "set", "lo", "up")
        ns.sysctl(
            **{
                "net.ipv4.icmp_ratelimit": 0,
                "net.ipv6.icmp.ratelimit": 0,
                "net.ipv4.icmp_msgs_per_sec": 100000,
                # no duplicate address detection: IPv6 (also link-local) usable at once
                "net.ipv6.conf.all.accept_dad": 0,
                "net.ipv6.conf.default.accept_dad": 0,
            }
        )
        if forwarding:
            ns.forwarding(True)
        return ns

    def link(
        self,
        a: Namespace,
        b: Namespace,
        a_addrs: str | Sequence[str] = (),
        b_addrs: str | Sequence[str] = (),
        *,
        a_name: str | None = None,
        b_name: str | None = None,
    ) -> tuple[str, str]:
        """Connect two namespaces with a veth pair, add addresses, bring both ends up.

        Returns the interface names (default ``to-<peer role>``, at most 15 characters).
        """
        a_if = a_name or f"to-{b.role}"[:15]
        b_if = b_name or f"to-{a.role}"[:15]
        a.ip("link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", b.name)
        a.ip("link", "set", a_if, "up")
        b.ip("link", "set", b_if, "up")
        # Addresses after link-up: an IPv6 address added while the link was down made the
        # first neighbour solicitation go missing (a 1 s stall on the first packet).
        for ns, iface, addrs in ((a, a_if, a_addrs), (b, b_if, b_addrs)):
            for cidr in [addrs] if isinstance(addrs, str) else addrs:
                ns.add_address(iface, cidr)
        return a_if, b_if

    def close(self) -> None:
        """Delete every namespace (and its hosts file and marker); raise if one remains."""
        _open_topologies.discard(self)
        errors: list[str] = []
        for ns in reversed(self.namespaces):
            proc = _run(["ip", "netns", "del", ns.name], check=False)
            if proc.returncode != 0 and ns.name in list_namespaces():
                errors.append(f"{ns.name}: {proc.stderr.strip()}")
            shutil.rmtree(_ETC_NETNS / ns.name, ignore_errors=True)
            with contextlib.suppress(OSError):
                (_MARKERS / ns.name).unlink()
        _remove_if_empty(_ETC_NETNS)
        names = {ns.name for ns in self.namespaces}
        self.namespaces.clear()
        left = names & set(list_namespaces())
        if errors or left:
            raise RuntimeError(f"namespaces not removed: {sorted(left)} {errors}")
