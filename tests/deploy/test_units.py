"""deploy/*.service pass ``systemd-analyze verify`` and keep their hardening (issue 14)."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = sorted([*(ROOT / "deploy").glob("*.service"), *(ROOT / "deploy").glob("*.timer")])
SERVICES = [u for u in UNITS if u.suffix == ".service"]
# The two that run all the time (as a dynamic user); the refresh runs as root, monthly.
DAEMONS = [u for u in SERVICES if "refresh" not in u.name]
INSTALLED = "/usr/local/bin/mpp-monitor"

pytestmark = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)


def ours() -> str:
    """The mpp-monitor of this checkout (where the units would name /usr/local/bin's)."""
    found = Path(sys.executable).with_name("mpp-monitor")
    assert found.exists(), found
    return str(found)


def staged(unit: Path, into: Path) -> Path:
    """``unit`` copied into ``into`` with its ExecStart*= pointing at this checkout's command.

    systemd-analyze checks that every executable exists; on a build machine the
    /usr/local/bin entry point does not, so the copy names the real one instead.
    """
    text = unit.read_text()
    assert INSTALLED in text or unit.suffix == ".timer", f"{unit.name} does not run {INSTALLED}"
    out = into / unit.name
    out.write_text(text.replace(INSTALLED, ours()))
    return out


def parsed(unit: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(unit.read_text())
    return parser


def test_there_are_units_for_the_monitor_the_notifier_and_the_refresh() -> None:
    assert [u.name for u in UNITS] == [
        "mpp-monitor-notify.service",
        "mpp-monitor-refresh.service",
        "mpp-monitor-refresh.timer",
        "mpp-monitor.service",
    ]


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_systemd_analyze_verify_says_nothing(unit: Path, tmp_path: Path) -> None:
    copy = staged(unit, tmp_path)
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # verify exits 0 on many warnings: any line it prints is a defect of the unit.
    assert done.returncode == 0, done.stdout + done.stderr
    assert (done.stdout + done.stderr).strip() == ""


@pytest.mark.parametrize("unit", DAEMONS, ids=lambda u: u.name)
def test_the_hardening_is_there(unit: Path) -> None:
    service = parsed(unit)["Service"]
    # Only the prober needs raw sockets (ICMP); the notifier gets no capability at all.
    wanted = "" if unit.name.endswith("notify.service") else "CAP_NET_RAW"
    assert service.get("AmbientCapabilities", "") == wanted
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["DynamicUser"] == "yes"
    assert service["EnvironmentFile"] == "-/etc/default/mpp-monitor"
    assert "/etc/mpp-monitor/inventory.yaml" in service["ExecStart"]
    assert service["StateDirectory"].startswith("mpp-monitor")


@pytest.mark.parametrize("unit", SERVICES, ids=lambda u: u.name)
def test_security_exposure_is_low(unit: Path, tmp_path: Path) -> None:
    copy = staged(unit, tmp_path)
    done = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--threshold=25", str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Overall exposure is printed as "... exposure level for X: 1.6 OK"; >2.5 fails the threshold.
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    assert "OK" in done.stdout.splitlines()[-1] or "SAFE" in done.stdout.splitlines()[-1]


def test_the_monitor_only_keeps_raw_sockets() -> None:
    service = parsed(ROOT / "deploy" / "mpp-monitor.service")["Service"]
    assert service["CapabilityBoundingSet"] == "CAP_NET_RAW"
