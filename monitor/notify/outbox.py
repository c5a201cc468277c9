"""The durable outbox: every accepted message on disk until it is delivered or expires.

SQLite in WAL mode, ``synchronous=FULL``: a message is committed (and fsynced) before the
webhook answers Alertmanager, so a restart, ``kill -9`` or a power cut after the 2xx loses
nothing. Why SQLite: it ships with Python, one file, transactions (a group's messages are
written all or none), and readers never block the writer in WAL mode; the message rate is a
few per minute, far below what one file handles. One process owns an outbox at a time: an
exclusive ``flock`` on ``FILE.lock`` (a second notifier on the same file is refused with the
owner's pid), so a prober and a separate ``mpp-monitor notify`` never both deliver.

``Outbox(":memory:")`` (the default of a bare ``Notifier``) keeps the same code path without
a file, for tests and embedding; it is not durable and says so in ``durable``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

SCHEMA_VERSION: Final = 1

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS message (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    site        TEXT NOT NULL,
    team        TEXT NOT NULL,
    channel     TEXT NOT NULL,
    created     REAL NOT NULL,  -- wall time accepted (unix s)
    expires     REAL NOT NULL,  -- wall time after which it is dropped as stale
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT NOT NULL DEFAULT '',
    text        TEXT NOT NULL,
    payload     TEXT NOT NULL   -- JSON: the alerts, language, status (see Notifier.submit)
);
CREATE INDEX IF NOT EXISTS message_lane ON message (site, team, channel, id);
CREATE TABLE IF NOT EXISTS memory (
    name        TEXT PRIMARY KEY,  -- what the notifier must remember across a restart
    value       TEXT NOT NULL      -- JSON
);
"""


class OutboxError(Exception):
    """The outbox file cannot be opened or is owned by another process."""


@dataclass(slots=True)
class Stored:
    """One message as stored."""

    id: int
    site: str
    team: str
    channel: str
    created: float
    expires: float
    attempts: int
    last_error: str
    text: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to store (the outbox assigns the id)."""

    site: str
    team: str
    channel: str
    created: float
    expires: float
    text: str
    payload: dict[str, Any]


class Outbox:
    """The store behind the notifier (see the module docstring)."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        self.durable = self.path != ":memory:"
        self._lock_fd: int | None = None
        if self.durable:
            self._lock()
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=5000")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise OutboxError(
                    f"{self.path}: outbox written by a newer mpp-monitor "
                    f"(schema {version} > {SCHEMA_VERSION})"
                )
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            self._unlock()
            raise OutboxError(f"{self.path}: cannot open the outbox: {exc}") from None

    def _lock(self) -> None:
        lock_path = self.path + ".lock"
        try:
            Path(lock_path).parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise OutboxError(f"{lock_path}: cannot create the lock: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise OutboxError(
                f"{self.path}: outbox in use by another notifier (pid {owner}); "
                "run one notifier per outbox (`run --no-notify` beside `notify`)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing releases the flock
            self._lock_fd = None

    def close(self) -> None:
        """Close the database and release the lock."""
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        self._unlock()

    def add(self, messages: Iterable[NewMessage]) -> list[int]:
        """Store messages in one transaction (all or none); return their ids in order."""
        ids: list[int] = []
        with self._transaction() as db:
            for m in messages:
                cur = db.execute(
                    "INSERT INTO message (site, team, channel, created, expires, text, payload)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (m.site, m.team, m.channel, m.created, m.expires, m.text, _dump(m.payload)),
                )
                assert cur.lastrowid is not None
                ids.append(cur.lastrowid)
        return ids

    def remove(self, ids: Iterable[int]) -> None:
        """Forget messages (delivered, failed for good, expired, collapsed)."""
        with self._transaction() as db:
            db.executemany("DELETE FROM message WHERE id = ?", [(i,) for i in ids])

    def attempted(self, ident: int, attempts: int, error: str) -> None:
        """Record a failed attempt."""
        with self._transaction() as db:
            db.execute(
                "UPDATE message SET attempts = ?, last_error = ? WHERE id = ?",
                (attempts, error, ident),
            )

    def replace(self, ident: int, text: str, payload: dict[str, Any]) -> None:
        """Rewrite a waiting message (some of its alerts were collapsed into a newer one)."""
        with self._transaction() as db:
            db.execute(
                "UPDATE message SET text = ?, payload = ? WHERE id = ?",
                (text, _dump(payload), ident),
            )

    def pending(self) -> list[Stored]:
        """Every stored message, oldest first."""
        rows = self._db.execute(
            "SELECT id, site, team, channel, created, expires, attempts, last_error, text, payload"
            " FROM message ORDER BY id"
        ).fetchall()
        out: list[Stored] = []
        for row in rows:
            try:
                payload = json.loads(row[9])
            except ValueError:
                payload = {}
            ident, site, team, channel, created, expires, attempts, error, text = row[:9]
            doc = payload if isinstance(payload, dict) else {}
            out.append(
                Stored(ident, site, team, channel, created, expires, attempts, error, text, doc)
            )
        return out

    def remember(self, name: str, value: Any) -> None:
        """Keep a small JSON value across restarts (e.g. the fast path's sites offline)."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO memory (name, value) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (name, json.dumps(value)),
            )

    def recall(self, name: str, default: Any = None) -> Any:
        """A value kept by ``remember`` (``default`` when there is none or it is unreadable)."""
        row = self._db.execute("SELECT value FROM memory WHERE name = ?", (name,)).fetchone()
        if row is None:
            return default
        try:
            return json.loads(row[0])
        except ValueError:
            return default

    def count(self) -> int:
        """Messages stored."""
        return int(self._db.execute("SELECT count(*) FROM message").fetchone()[0])

    @contextlib.contextmanager
    def _transaction(self) -> Any:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


def _dump(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
