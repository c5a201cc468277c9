"""A target's short history of results: a fixed-size ring of compact entries."""

from __future__ import annotations

from array import array
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One past result of a target (compact: no phases or values)."""

    wall: float
    success: bool
    duration_seconds: float
    reason: str


class History:
    """A fixed-size ring of recent results in preallocated arrays (flat memory per target)."""

    __slots__ = ("_durations", "_len", "_next", "_ok", "_reasons", "_walls")

    def __init__(self, size: int) -> None:
        size = max(1, size)
        self._walls = array("d", bytes(8 * size))
        self._durations = array("d", bytes(8 * size))
        self._ok = bytearray(size)
        self._reasons: list[str] = [""] * size
        self._next = 0
        self._len = 0

    def append(self, wall: float, success: bool, duration: float, reason: str) -> None:
        """Add one result, overwriting the oldest when full."""
        i = self._next
        self._walls[i] = wall
        self._durations[i] = duration
        self._ok[i] = 1 if success else 0
        self._reasons[i] = reason
        size = len(self._ok)
        self._next = (i + 1) % size
        self._len = min(self._len + 1, size)

    def __len__(self) -> int:
        return self._len

    def entries(self) -> list[HistoryEntry]:
        """Return the stored results, oldest first."""
        size = len(self._ok)
        start = (self._next - self._len) % size
        out = []
        for k in range(self._len):
            i = (start + k) % size
            ok = bool(self._ok[i])
            out.append(HistoryEntry(self._walls[i], ok, self._durations[i], self._reasons[i]))
        return out
