"""The committed Prometheus rules: real promtool checks, unit tests, runbook links, drift."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from alerts import build

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "alerts" / "mpp-rules.yml"
TESTS_DIR = ROOT / "alerts" / "tests"
RUNBOOK = ROOT / "docs" / "runbook.md"
RUNBOOK_URL = "/runbook"
ANNOTATIONS = {"summary", "description", "summary_en", "description_en", "runbook_url"}


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found: install Debian's prometheus package (./tasks setup)")
    return path


def _load_yaml(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def _rules() -> list[dict[str, Any]]:
    return [r for g in _load_yaml(RULES)["groups"] for r in g["rules"]]


def _alerts() -> list[dict[str, Any]]:
    return [r for r in _rules() if "alert" in r]


def _test_files() -> list[Path]:
    files = sorted(TESTS_DIR.glob("*.test.yml"))
    assert files, "no promtool test files in alerts/tests"
    return files


def _minutes(duration: str) -> float:
    total = 0.0
    for value, unit in re.findall(r"(\d+)([smhd])", duration):
        total += int(value) * {"s": 1 / 60, "m": 1, "h": 60, "d": 1440}[unit]
    return total


def _run_promtool_tests(test_files: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_promtool(), "test", "rules", *map(str, test_files)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_promtool_check_rules_is_clean() -> None:
    proc = subprocess.run(
        [_promtool(), "check", "rules", str(RULES)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout
    assert "WARNING" not in (proc.stdout + proc.stderr).upper()


def test_promtool_unit_tests_pass() -> None:
    proc = _run_promtool_tests(_test_files())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("SUCCESS") == len(_test_files())


def test_committed_rules_match_the_generator() -> None:
    rendered = build.render()
    assert set(rendered) == {"alerts/mpp-rules.yml"}
    assert rendered["alerts/mpp-rules.yml"] == RULES.read_text(encoding="utf-8"), (
        "alerts/mpp-rules.yml differs from alerts/build.py: run `python tools/generate.py`"
    )


def _runbook_anchors() -> set[str]:
    anchors = set()
    for line in RUNBOOK.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^#{1,6}\s+(.+?)\s*$", line)
        if m:
            # GitHub's slug: lower case, punctuation dropped, spaces to hyphens
            slug = re.sub(r"[^\w\- ]", "", m.group(1).lower()).replace(" ", "-")
            anchors.add(slug)
    return anchors


def test_every_alert_follows_the_conventions() -> None:
    alerts = _alerts()
    names = [a["alert"] for a in alerts]
    assert len(names) == len(set(names)), "duplicate alert names"
    anchors = _runbook_anchors()
    for a in alerts:
        name = a["alert"]
        assert re.fullmatch(r"Mpp[A-Z][A-Za-z]+", name), name
        assert a["labels"]["severity"] in {"critical", "warning", "info"}, name
        assert _minutes(a.get("for", "0s")) > 0, f"{name} has no for:"
        assert set(a["annotations"]) == ANNOTATIONS, name
        url = a["annotations"]["runbook_url"]
        base, _, anchor = url.partition("#")
        assert base == RUNBOOK_URL, url
        assert anchor == name.lower(), url
        assert anchor in anchors, f"docs/runbook.md has no section for {name}"


def test_the_required_alerts_exist() -> None:
    names = {a["alert"] for a in _alerts()}
    required = {
        "MppSiteOffline",
        "MppLinkDown",
        "MppLinkDegraded",
        "MppApplicationDown",
        "MppApplicationSlow",
        "MppCertificateExpiringSoon",
        "MppCounterCannotServe",
        "MppCounterDeviceDown",
        "MppInfraDeviceDown",
        "MppMonitorDown",
        "MppMonitorAbsent",
        "MppProbesStale",
        "MppConfigReloadFailed",
        "MppNotifierFailing",
    }
    assert required <= names, required - names


def test_entity_alerts_never_fire_on_unreachable() -> None:
    for a in _alerts():
        expr = a["expr"]
        for m in re.finditer(r"mpp_entity_status\{([^}]*)\}", expr):
            selector = m.group(1)
            if 'status="down"' in selector:
                continue
            # other status selectors only ever exclude (unless) or hold back alerts
            assert "unless" in expr, f"{a['alert']} selects {selector} outside an unless"


def test_every_alert_is_tested_on_both_sides_of_its_for_window() -> None:
    """Each alert has a test where it is silent one evaluation before it fires, and one where
    it fires with its exact labels (site, team, severity) and all five annotations."""
    alerts = {a["alert"]: a for a in _alerts()}
    seen: dict[str, set[str]] = {name: set() for name in alerts}
    for path in _test_files():
        doc = _load_yaml(path)
        step = _minutes(doc.get("evaluation_interval", "1m"))
        for group in doc["tests"]:
            cases = group.get("alert_rule_test", [])
            by_name: dict[str, list[tuple[float, list[Any]]]] = {}
            for case in cases:
                by_name.setdefault(case["alertname"], []).append(
                    (_minutes(case["eval_time"]), case.get("exp_alerts") or [])
                )
            for name, points in by_name.items():
                assert name in alerts, f"{path.name}: unknown alert {name}"
                rule = alerts[name]
                for t, exp in points:
                    for alert in exp:
                        labels = alert["exp_labels"]
                        assert labels["severity"] == rule["labels"]["severity"], name
                        assert labels.get("site") and labels.get("team"), (path.name, name)
                        assert set(alert["exp_annotations"]) == ANNOTATIONS, (path.name, name)
                    if exp and any(not e and abs(t - step - u) < 1e-9 for u, e in points):
                        seen[name].add("edge")
    missing = [name for name, marks in seen.items() if "edge" not in marks]
    assert not missing, f"alerts without a just-before/just-after test: {missing}"


def _mutated_rules(tmp_path: Path, mutate: Any, only: str = "") -> list[Path]:
    """Copy the rules, changed by ``mutate``, and the test files (those naming ``only``)."""
    yaml = YAML()
    data = yaml.load(RULES.read_text(encoding="utf-8"))
    for group in data["groups"]:
        for rule in group["rules"]:
            mutate(rule)
    yaml.dump(data, tmp_path / "mpp-rules.yml")
    (tmp_path / "tests").mkdir()
    files = []
    for src in _test_files():
        if only and f"alertname: {only}\n" not in src.read_text(encoding="utf-8"):
            continue
        dst = tmp_path / "tests" / src.name
        shutil.copy(src, dst)
        files.append(dst)
    return files


@pytest.mark.parametrize("name", sorted(a["alert"] for a in _alerts()))
def test_the_unit_tests_catch_a_changed_for_window(tmp_path: Path, name: str) -> None:
    def longer_for(rule: dict[str, Any]) -> None:
        if rule.get("alert") == name:
            rule["for"] = f"{int(_minutes(rule['for'])) + 1}m"

    proc = _run_promtool_tests(_mutated_rules(tmp_path, longer_for, only=name))
    assert proc.returncode != 0, f"{name}: a for: one minute longer went unnoticed"
    assert f"alertname: {name}," in proc.stdout + proc.stderr


def test_the_unit_tests_catch_alerts_on_unreachable(tmp_path: Path) -> None:
    def on_unreachable(rule: dict[str, Any]) -> None:
        if "alert" in rule:
            rule["expr"] = rule["expr"].replace('status="down"', 'status=~"down|unreachable"')

    proc = _run_promtool_tests(_mutated_rules(tmp_path, on_unreachable))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    for name in ("MppLinkDown", "MppApplicationDown", "MppCounterDeviceDown"):
        assert f"alertname: {name}," in out, name


def test_short_for_windows_for_end_to_end_tests(tmp_path: Path) -> None:
    text = build.rules_text(for_override="20s")
    path = tmp_path / "short.yml"
    path.write_text(text, encoding="utf-8")
    rules = [r for g in YAML(typ="safe").load(text)["groups"] for r in g["rules"]]
    assert {r["for"] for r in rules if "alert" in r} == {"20s"}
    assert [r.get("record") or r["alert"] for r in rules] == [
        r.get("record") or r["alert"] for r in _rules()
    ]
    proc = subprocess.run(
        [_promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_monitor_restart_mid_outage_neither_resolves_nor_pages_twice(tmp_path: Path) -> None:
    # alerts/tests/restart.test.yml passes with the committed rules (test above); without
    # keep_firing_for the same file fails: the restart gap would resolve and re-page.
    def no_keep_firing(rule: dict[str, Any]) -> None:
        rule.pop("keep_firing_for", None)

    files = [f for f in _mutated_rules(tmp_path, no_keep_firing) if f.name == "restart.test.yml"]
    assert files, "alerts/tests/restart.test.yml is missing"
    proc = _run_promtool_tests(files)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    for name in ("MppApplicationDown", "MppLinkDown", "MppCounterDeviceDown"):
        assert f"alertname: {name}," in out, name


def test_fault_alerts_keep_firing_across_a_restart() -> None:
    kept = {a["alert"]: a.get("keep_firing_for") for a in _alerts()}
    for name in (
        "MppSiteOffline",
        "MppLinkDown",
        "MppApplicationDown",
        "MppCounterDeviceDown",
        "MppInfraDeviceDown",
        "MppCounterCannotServe",
    ):
        assert kept[name] == "2m", name
