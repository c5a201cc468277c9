"""A fresh headless Chromium (Debian's /usr/bin/chromium driven by Playwright) for page tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

from monitor.report.pdf import HEADLESS

CHROMIUM = "/usr/bin/chromium"
ARGS = [*HEADLESS, "--disable-quic"]


@contextlib.contextmanager
def headless_chromium() -> Iterator[Any]:
    """A browser context with its own throw-away profile, 1920x1080."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="mpp-chromium-")
    try:
        with sync_playwright() as p:
            ctx = p.chromium.launch_persistent_context(
                profile,
                executable_path=CHROMIUM,
                headless=True,
                args=ARGS,
                viewport={"width": 1920, "height": 1080},
            )
            try:
                yield ctx
            finally:
                ctx.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
