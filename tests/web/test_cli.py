"""Start-up errors of `run`, `simulate` and `demo`, and the demo without ICMP permission."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from tests.support.exposition import metric_samples

from .helpers import DEMO, REPO, Http, Proc, free_port, monitor_cmd, poll

NO_NET_RAW = ["setpriv", "--bounding-set", "-net_raw", "--inh-caps", "-net_raw"]
needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="dropping CAP_NET_RAW needs root and setpriv",
)


def cli(*args: str, prefix: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*(prefix or []), *monitor_cmd(*args)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )


def test_run_with_a_bad_inventory_exits_1_with_the_error_lines(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEMO.read_text().replace("kind: core_switch", "kind: core_swich"))
    out = cli("run", "--config", str(bad), "--listen", f"127.0.0.1:{free_port()}")
    assert out.returncode == 1
    assert f"{bad}:" in out.stderr and "core_swich" in out.stderr
    assert "Traceback" not in out.stderr
    missing = cli("run", "--config", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 1 and "file not found" in missing.stderr


def test_run_with_bad_listen_or_web_config(tmp_path: Path) -> None:
    out = cli("run", "--config", str(DEMO), "--listen", "nowhere")
    assert out.returncode == 1 and "invalid listen address" in out.stderr
    web = tmp_path / "web.yml"
    web.write_text("basic_auth_users:\n  admin: hunter2\n")
    out = cli("run", "--config", str(DEMO), "--web.config", str(web))
    assert out.returncode == 1 and "bcrypt" in out.stderr and "hunter2" not in out.stderr


def test_run_on_a_busy_port_says_so() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = cli("run", "--config", str(DEMO), "--listen", f"127.0.0.1:{port}")
    assert out.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in out.stderr
    assert "Traceback" not in out.stderr


def test_simulate_refuses_a_public_control_address() -> None:
    out = cli("simulate", str(DEMO), "--control", "0.0.0.0:9999")
    assert out.returncode == 1 and "loopback only" in out.stderr
    out = cli("demo", "--listen", "0.0.0.0:9999")
    assert out.returncode == 1 and "loopback only" in out.stderr


@needs_root
def test_run_without_icmp_permission_explains_the_fix() -> None:
    out = cli(
        "run", "--config", str(DEMO), "--listen", f"127.0.0.1:{free_port()}", prefix=NO_NET_RAW
    )
    assert out.returncode == 1, out.stderr
    assert "ICMP probes cannot run" in out.stderr
    assert "ping_group_range" in out.stderr and "CAP_NET_RAW" in out.stderr
    assert "Traceback" not in out.stderr


@needs_root
@pytest.mark.slow
def test_demo_without_icmp_permission_skips_icmp_checks() -> None:
    listen = free_port()
    proc = Proc(
        [
            *NO_NET_RAW,
            *monitor_cmd(
                "demo",
                "--faults",
                "none",
                "--listen",
                f"127.0.0.1:{listen}",
                "--control",
                f"127.0.0.1:{free_port()}",
            ),
        ]
    )
    try:
        proc.wait_output("Stop with Ctrl-C", 30)
        assert "skipping the ICMP checks" in proc.stderr
        http = Http(f"http://127.0.0.1:{listen}")
        series = poll(
            lambda: (
                (s := metric_samples(http.get("/metrics")[2], "probe_success"))
                and len(s) >= 157
                and s
            ),
            30,
            "every non-ICMP target",
        )
        assert "demo/infra/router/icmp" not in series
        assert proc.stop(signal.SIGINT) == 0
        assert "Traceback" not in proc.stderr, proc.stderr
    finally:
        proc.close()
