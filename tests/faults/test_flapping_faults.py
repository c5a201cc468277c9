"""FAULTS.md, Probes: a link flapping up and down. One fire and one resolve per real outage.

Two layers hold the thresholds: the state's hysteresis (``down_after``/``up_after`` results)
and the alert rules' ``for:`` and ``keep_firing_for:`` (alerts/tests/flapping.test.yml, run
by tests/alerts with every other promtool file; here it is also shown to fail without them).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from monitor.state import State
from tests.runtime.helpers import Mpp, fail, ok

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "alerts" / "mpp-rules.yml"
FLAPPING = ROOT / "alerts" / "tests" / "flapping.test.yml"
T0 = 1_700_000_000.0


class LinkWatch:
    """Feeds one result per anchor per round and counts the link's status changes."""

    def __init__(self, mpp: Mpp) -> None:
        self.mpp = mpp
        self.state = State(down_after=2, up_after=2)
        self.state.apply_plan(mpp.plan(), T0)
        self.anchors = [t.id for t in mpp.entity_targets(mpp.isp_a)]
        self.changes: list[str] = []
        self.t = T0

    def round(self, *answers: bool) -> None:
        """One probe round: answers[i] for anchor i (one value: every anchor)."""
        if len(answers) == 1:
            answers = answers * len(self.anchors)
        for tid, up in zip(self.anchors, answers, strict=True):
            self.t += 1
            self.state.record(tid, ok() if up else fail("timeout"), self.t)
            status = self.state.entity_state(self.mpp.isp_a.id).status
            if not self.changes or self.changes[-1] != status:
                self.changes.append(status)


def test_state_hysteresis_holds_on_a_flapping_link(mpp: Mpp) -> None:
    w = LinkWatch(mpp)
    for _ in range(3):
        w.round(True)
    for i in range(40):  # every anchor fails every other round
        w.round(i % 2 == 0)
    for i in range(40):  # the anchors take turns failing: one always answers
        w.round(i % 2 == 0, i % 2 == 1)
    assert w.changes == ["up"]
    # a real outage with one answered round in the middle: one "down", one "up"
    for answered in [False] * 6 + [True] + [False] * 6 + [True] * 3:
        w.round(answered)
    assert w.changes == ["up", "down", "up"]


@pytest.fixture
def mpp() -> Mpp:
    """The small MPP of the runtime tests (isp-a has two anchors)."""
    return Mpp()


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found: install Debian's prometheus package (./tasks setup)")
    return path


def _run_with_rules(tmp_path: Path, mutate: Callable[[dict[str, Any]], None]) -> str:
    """Run flapping.test.yml against a mutated copy of the rules; return promtool's output."""
    yaml = YAML()
    data = yaml.load(RULES.read_text(encoding="utf-8"))
    for group in data["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == "MppLinkDown":
                mutate(rule)
    yaml.dump(data, tmp_path / "mpp-rules.yml")
    (tmp_path / "tests").mkdir()
    shutil.copy(FLAPPING, tmp_path / "tests" / FLAPPING.name)
    proc = subprocess.run(
        [_promtool(), "test", "rules", str(tmp_path / "tests" / FLAPPING.name)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return f"rc={proc.returncode}\n{proc.stdout}{proc.stderr}"


def test_the_flapping_rule_test_passes_as_committed(tmp_path: Path) -> None:
    out = _run_with_rules(tmp_path, lambda rule: None)
    assert out.startswith("rc=0\n") and "SUCCESS" in out, out


def test_without_keep_firing_for_the_blip_would_page_twice(tmp_path: Path) -> None:
    out = _run_with_rules(tmp_path, lambda rule: rule.pop("keep_firing_for", None))
    assert not out.startswith("rc=0\n"), out
    assert "alertname: MppLinkDown, time: 12m" in out, out  # resolved during the blip


def test_a_for_window_shorter_than_the_flaps_would_page_on_them(tmp_path: Path) -> None:
    out = _run_with_rules(tmp_path, lambda rule: rule.__setitem__("for", "1m"))
    assert not out.startswith("rc=0\n"), out
    assert "alertname: MppLinkDown, time: 6m" in out, out  # isp-lintasarta's 2-minute drops
