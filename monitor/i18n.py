"""The languages of every text we show or send: one type for web, notify and report."""

from __future__ import annotations

from typing import Literal

Language = Literal["id", "en"]
