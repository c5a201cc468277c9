"""Config errors as data: each invalid-*.yaml fails with exactly its .expected lines."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from monitor.inventory import ConfigError, load_plan

ROOT = Path(__file__).resolve().parents[2]
CASES = sorted((Path(__file__).parent / "invalid").glob("invalid-*.yaml"))


def _rel(path: Path) -> str:
    """The path as a user would type it from the repository root."""
    return path.relative_to(ROOT).as_posix()


def _expected(case: Path) -> list[str]:
    return case.with_suffix(".expected").read_text(encoding="utf-8").splitlines()


def check_config(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m monitor check-config ...` from the repository root."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "monitor", "check-config", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_enough_distinct_cases() -> None:
    assert len(CASES) >= 12
    for case in CASES:
        assert case.with_suffix(".expected").is_file(), f"{case.name} has no .expected file"


@pytest.fixture(scope="module")
def runs() -> dict[Path, subprocess.CompletedProcess[str]]:
    """check-config on every case, a few processes at a time (start-up dominates)."""
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        done = pool.map(lambda case: check_config(_rel(case)), CASES)
        return dict(zip(CASES, done, strict=True))


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_check_config_reports_exact_errors(
    case: Path, runs: dict[Path, subprocess.CompletedProcess[str]]
) -> None:
    proc = runs[case]
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == _expected(case)


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_load_plan_raises_the_same_errors(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    with pytest.raises(ConfigError) as info:
        load_plan(_rel(case))
    expected = _expected(case)
    n = len(info.value.errors)
    assert [str(e) for e in info.value.errors] == expected[:-1]
    assert expected[-1] == f"{n} error{'' if n == 1 else 's'} in {_rel(case)}: nothing loaded"
    # the exception text is the same lines: a caller that logs it says the same thing
    assert str(info.value).splitlines() == expected[:-1]


def test_every_error_names_file_line_and_column() -> None:
    for case in CASES:
        for line in _expected(case)[:-1]:
            file, lineno, col, _rest = line.split(":", 3)
            assert file == _rel(case)
            assert int(lineno) >= 1 and int(col) >= 1, line


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "tidak-ada.yaml"
    proc = check_config(str(missing))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [
        f"{missing}: file not found",
        f"1 error in {missing}: nothing loaded",
    ]


_SITE = """\
sites:
  - id: paser
    name: MPP
    teams:
      - id: kominfo
        name: Diskominfo
        channels: [{kind: email, to: noc@example.id}]
"""
_SECRET_CASES = {
    "channel-tokens": """\
sites:
  - id: paser
    name: MPP
    teams:
      - id: kominfo
        name: Diskominfo
        channels:
          - {kind: telegram, chat_id: '-1001', token: 'SANGAT-RAHASIA-42'}
          - {kind: waha, chat_id: '0811111111', base_url: 'http://127.0.0.1:3000',
             api_key: 4242424242}
""",
    "http-credentials": _SITE
    + """\
    agencies:
      - id: a
        name: A
        team: kominfo
        applications:
          - id: app
            name: App
            url: 'https://app.example.id/'
            settings:
              basic_auth: {username: u, password: 'SANGAT-RAHASIA-42'}
              bearer_token: 4242424242
""",
    "header": _SITE
    + """\
    agencies:
      - id: a
        name: A
        team: kominfo
        applications:
          - id: app
            name: App
            url: 'https://app.example.id/'
            settings: {headers: {X-Api-Key: 'SANGAT-RAHASIA-42'}}
""",
}


@pytest.mark.parametrize("name", sorted(_SECRET_CASES))
def test_inline_secret_is_rejected_without_repeating_it(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_text(_SECRET_CASES[name], encoding="utf-8")
    proc = check_config(str(path))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "secret" in proc.stderr
    assert "SANGAT-RAHASIA-42" not in proc.stderr
    assert "4242424242" not in proc.stderr


def test_directory_is_not_a_traceback(tmp_path: Path) -> None:
    proc = check_config(str(tmp_path))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"{tmp_path}: cannot read file")
