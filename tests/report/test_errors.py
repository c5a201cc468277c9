"""`mpp-monitor report` fails with one clear line (exit 1, no traceback) when it cannot work."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.cli import main
from tests.dashboards.promserver import PromServer, start_prometheus
from tests.report.synthetic import SITE_YAML as SITE_PATH

SITE_YAML = str(SITE_PATH)


@pytest.fixture(scope="module")
def empty_prometheus() -> Iterator[PromServer]:
    with start_prometheus("global:\n  scrape_interval: 15s\n") as prom:
        yield prom


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def report(capsys: pytest.CaptureFixture[str], tmp_path: Path, url: str, *args: str) -> str:
    argv = ["report", "--config", SITE_YAML, "--prometheus", url, "--out", str(tmp_path)]
    if "--month" not in args:
        argv += ["--month", "2026-02"]
    code = main([*argv, *args])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert list(tmp_path.iterdir()) == []  # nothing half-written
    return err


def test_unreachable_prometheus(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    err = report(capsys, tmp_path, f"http://127.0.0.1:{closed_port()}")
    assert err.startswith("mpp-monitor report: cannot reach Prometheus at http://127.0.0.1:")


def test_month_without_data(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, empty_prometheus: PromServer
) -> None:
    err = report(capsys, tmp_path, empty_prometheus.url)
    assert "no data for site 'paser' in 2026-02 at http://127.0.0.1:" in err


def test_unknown_site(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, empty_prometheus: PromServer
) -> None:
    err = report(capsys, tmp_path, empty_prometheus.url, "--site", "balikpapan")
    assert err == "mpp-monitor report: unknown site 'balikpapan': the inventory has paser\n"


@pytest.mark.parametrize("month", ["2026-2", "2026-13", "Feb 2026"])
def test_bad_month(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, empty_prometheus: PromServer, month: str
) -> None:
    err = report(capsys, tmp_path, empty_prometheus.url, "--month", month)
    assert f"invalid month {month!r}: expected YYYY-MM, e.g. 2026-02" in err


def test_month_in_the_future(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, empty_prometheus: PromServer
) -> None:
    err = report(capsys, tmp_path, empty_prometheus.url, "--month", "2999-01")
    assert "month 2999-01 has not started yet" in err


def test_bad_inventory(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(
        [
            "report",
            "--config",
            str(tmp_path / "none.yaml"),
            "--prometheus",
            "http://127.0.0.1:9",
            "--month",
            "2026-02",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 1
    assert "Traceback" not in capsys.readouterr().err


def test_bad_format_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "report",
                "--config",
                SITE_YAML,
                "--prometheus",
                "http://127.0.0.1:9",
                "--month",
                "2026-02",
                "--out",
                str(tmp_path),
                "--format",
                "html,docx",
            ]
        )
    assert exc.value.code == 2
    assert "invalid format 'docx': use html, csv, pdf, xlsx" in capsys.readouterr().err
