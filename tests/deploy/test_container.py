"""The container option: deploy/Containerfile and compose.yaml, with the configs they mount.

No container engine runs here; the test does what docs/deploy.md tells an officer to do before
``compose up`` (render both configs for the compose network's host names) and checks the
results with promtool and amtool, and that the files, ports and command line agree.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from monitor.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DEMO = ROOT / "examples" / "demo.yaml"
RENDERED = {"prometheus.yml", "alertmanager.yml", "inventory.yaml"}  # per building


def compose() -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe", pure=True).load((DEPLOY / "compose.yaml").read_text())
    return data


def containerfile() -> list[tuple[str, str]]:
    """(instruction, rest) of each Containerfile line, continuations joined."""
    text = (DEPLOY / "Containerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_the_image_runs_a_command_line_mpp_monitor_accepts() -> None:
    import json

    entry = json.loads(next(r for w, r in containerfile() if w == "ENTRYPOINT"))
    cmd = json.loads(next(r for w, r in containerfile() if w == "CMD"))
    assert entry == ["mpp-monitor"]
    args = build_parser().parse_args(cmd)
    assert args.command == "run" and args.config == "/etc/mpp-monitor/inventory.yaml"
    assert args.log_format == "json"
    exposed = next(r for w, r in containerfile() if w == "EXPOSE")
    assert args.listen.endswith(":" + exposed)


def test_the_image_copies_what_exists() -> None:
    for word, rest in containerfile():
        if word == "COPY":
            *sources, _ = shlex.split(rest)
            for source in sources:
                assert (ROOT / source).exists(), source


def test_every_mount_exists_or_is_rendered_per_building() -> None:
    services = compose()["services"]
    assert set(services) == {"mpp-monitor", "prometheus", "alertmanager"}
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith("."):
                continue  # a named volume
            path = (DEPLOY / source).resolve()
            assert path.exists() or path.name in RENDERED, (name, source)
    monitor = services["mpp-monitor"]
    assert monitor["cap_add"] == ["NET_RAW"] and monitor["cap_drop"] == ["ALL"]
    retention = [a for a in services["prometheus"]["command"] if "retention.time" in a]
    assert retention and int(retention[0].split("=")[1].rstrip("d")) >= 45


@pytest.mark.skipif(
    shutil.which("promtool") is None or shutil.which("amtool") is None,
    reason="promtool/amtool not installed",
)
def test_the_documented_render_gives_configs_promtool_and_amtool_accept(tmp_path: Path) -> None:
    services = compose()["services"]
    port = services["mpp-monitor"]["ports"][0].rsplit(":", 1)[1]
    prom, am = tmp_path / "prometheus.yml", tmp_path / "alertmanager.yml"
    steps = [
        ["render", "prometheus", "--config", str(DEMO), "--monitor", f"mpp-monitor:{port}",
         "--alertmanager", "alertmanager:9093", "--rules", "/etc/prometheus/mpp-rules.yml",
         "--out", str(prom)],
        ["render", "alertmanager", "--config", str(DEMO),
         "--notifier-url", f"http://mpp-monitor:{port}", "--out", str(am)],
    ]  # fmt: skip
    for step in steps:
        done = subprocess.run(
            [sys.executable, "-m", "monitor", *step],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    # The rule file is mounted at /etc/prometheus/mpp-rules.yml: its own check.
    mounted = [v for v in services["prometheus"]["volumes"] if "mpp-rules.yml" in v]
    assert mounted == ["../alerts/mpp-rules.yml:/etc/prometheus/mpp-rules.yml:ro"]
    for argv in (
        ["promtool", "check", "config", "--syntax-only", str(prom)],
        ["promtool", "check", "rules", str(ROOT / "alerts" / "mpp-rules.yml")],
        ["amtool", "check-config", str(am)],
    ):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    text = prom.read_text()
    assert f"mpp-monitor:{port}" in text and "alertmanager:9093" in text
    assert f"http://mpp-monitor:{port}/api/v1/alerts/webhook/" in am.read_text()
