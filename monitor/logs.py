"""Log lines for people and for journald: one place that sets up logging for run and notify.

``--log-format auto`` (the default) writes ``LEVEL name: message`` without a timestamp when
stderr is the systemd journal (``JOURNAL_STREAM`` names it), since journald stamps every line
itself, and ``TIME LEVEL name: message`` otherwise. ``json`` writes one JSON object per line
(``ts``, ``level``, ``logger``, ``message`` and ``exc`` for a traceback) for log shippers.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
from collections.abc import Mapping
from typing import Literal, TextIO

LogFormat = Literal["auto", "text", "journal", "json"]
FORMATS: tuple[LogFormat, ...] = ("auto", "text", "journal", "json")

TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JOURNAL = "%(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record; the time as a UTC RFC 3339 string."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": self.formatTime(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        t = dt.datetime.fromtimestamp(record.created, dt.UTC)
        return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def under_journal(stream: TextIO, env: Mapping[str, str]) -> bool:
    """True when ``stream`` is the journal's socket: JOURNAL_STREAM is "DEVICE:INODE" of it."""
    value = env.get("JOURNAL_STREAM", "")
    try:
        device, inode = (int(x) for x in value.split(":"))
        st = os.fstat(stream.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (device, inode)


def formatter(fmt: LogFormat, stream: TextIO, env: Mapping[str, str]) -> logging.Formatter:
    """The formatter for ``fmt`` (``auto`` decided by where ``stream`` goes)."""
    if fmt == "auto":
        fmt = "journal" if under_journal(stream, env) else "text"
    if fmt == "json":
        return JsonFormatter()
    return logging.Formatter(JOURNAL if fmt == "journal" else TEXT)


def say(message: str, level: int = logging.ERROR) -> None:
    """A service's own start/stop line on stderr: plain text, or a JSON object under ``json``.

    Start-up errors (``FILE:LINE:COL: field: message``) stay exactly as check-config prints
    them for people; a log shipper reading ``--log-format json`` still gets one object a line.
    """
    for handler in logging.getLogger().handlers:  # what configure() installed says the format
        if isinstance(handler, logging.StreamHandler) and isinstance(
            handler.formatter, JsonFormatter
        ):
            record = logging.LogRecord("mpp-monitor", level, "", 0, message, None, None)
            print(handler.formatter.format(record), file=handler.stream, flush=True)
            return
    print(message, file=sys.stderr, flush=True)


def configure(
    level: str,
    fmt: LogFormat = "auto",
    stream: TextIO | None = None,
    env: Mapping[str, str] | None = None,
) -> logging.Handler:
    """Send every log record at ``level`` or above to ``stream`` (stderr) in ``fmt``."""
    out = stream if stream is not None else sys.stderr
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter(fmt, out, os.environ if env is None else env))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper()))
    return handler
