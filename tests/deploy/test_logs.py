"""Log lines journald-friendly under systemd, JSON on request (monitor/logs.py, issue 14)."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor import logs


@pytest.fixture(autouse=True)
def root_logging() -> Iterator[None]:
    """Leave the root logger as it was (configure replaces its handlers)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def emit(fmt: logs.LogFormat, env: dict[str, str], stream: io.StringIO | None = None) -> str:
    out = stream if stream is not None else io.StringIO()
    logs.configure("info", fmt, stream=out, env=env)
    logging.getLogger("monitor.test").info("jaringan putus: %s", "Telkom")
    logging.getLogger("monitor.test").debug("not shown at info")
    return out.getvalue()


def test_text_has_a_timestamp_and_the_message() -> None:
    line = emit("text", {})
    assert line.endswith("INFO monitor.test: jaringan putus: Telkom\n")
    assert line[:4].isdigit() and line.count("\n") == 1  # "2026-12-07 02:..." first


def test_journal_has_no_timestamp() -> None:
    assert emit("journal", {}) == "INFO monitor.test: jaringan putus: Telkom\n"


def test_json_is_one_object_per_line_with_the_traceback() -> None:
    out = io.StringIO()
    logs.configure("info", "json", stream=out, env={})
    try:
        raise ValueError("rusak")
    except ValueError:
        logging.getLogger("monitor.x").exception("gagal %d", 3)
    record = json.loads(out.getvalue())
    assert record["level"] == "error" and record["logger"] == "monitor.x"
    assert record["message"] == "gagal 3"
    assert "ValueError: rusak" in record["exc"]
    assert record["ts"].endswith("Z") and "T" in record["ts"]


def test_auto_is_journal_only_when_stderr_is_the_journal_stream(tmp_path: Path) -> None:
    with (tmp_path / "stream").open("w+") as real:
        st = os.fstat(real.fileno())
        named = {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
        assert logs.under_journal(real, named)
        assert not logs.under_journal(real, {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino + 1}"})
        assert not logs.under_journal(real, {"JOURNAL_STREAM": "garbage"})
        assert not logs.under_journal(real, {})
        # A StringIO has no file descriptor: never the journal.
        assert not logs.under_journal(io.StringIO(), named)


def test_run_accepts_log_format_and_writes_json_lines(tmp_path: Path) -> None:
    """The real command: a config error is logged as one JSON object when asked to."""
    bad = tmp_path / "inv.yaml"
    bad.write_text("site: {id: x}\n")
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "run", "--config", str(bad), "--log-format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    objects = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert objects, done.stderr
    assert any(str(bad) in o["message"] for o in objects), done.stderr
