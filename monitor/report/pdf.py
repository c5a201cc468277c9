"""The report as PDF: the HTML page printed by headless Chromium (A4, page numbers from the
template's @page rules, no browser header or footer, a fresh profile each time)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


class PdfError(Exception):
    """The PDF cannot be made; the message is one line for people."""


def find_browser(name: str | None = None) -> str:
    """The Chromium to print with: the one named, else the first of BROWSERS on PATH."""
    for candidate in (name,) if name else BROWSERS:
        path = shutil.which(candidate)
        if path is not None:
            return path
    wanted = name or " or ".join(BROWSERS)
    raise PdfError(f"cannot make the PDF: {wanted} not found (Debian: apt-get install chromium)")


HEADLESS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
"""Chromium offline and quiet: no first-run, sync, update or background traffic."""


def command(browser: str, source: Path, out: Path, profile: Path) -> list[str]:
    """The Chromium command line that prints source to out."""
    # the page is our own escaped HTML with no script and no external asset. (Turning
    # scripts off with --blink-settings=scriptEnabled=false makes Chromium 156 exit 0
    # without writing the PDF.)
    return [
        browser,
        *HEADLESS,
        f"--user-data-dir={profile}",
        "--no-pdf-header-footer",
        f"--print-to-pdf={out}",
        source.as_uri(),
    ]


def html_to_pdf(html: str, out: Path, browser: str | None = None, timeout: float = 120.0) -> None:
    """Print one HTML document to out (PDF) with headless Chromium."""
    exe = find_browser(browser)
    out = out.resolve()
    with tempfile.TemporaryDirectory(prefix="mpp-pdf-") as tmp:
        source = Path(tmp) / "report.html"
        source.write_text(html, encoding="utf-8")
        out.unlink(missing_ok=True)
        try:
            done = subprocess.run(
                command(exe, source, out, Path(tmp) / "profile"),
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise PdfError(f"cannot make {out.name}: Chromium took over {timeout:g}s") from None
    if done.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
        lines = [x for x in done.stderr.splitlines() if x.strip()]
        why = lines[-1].strip() if lines else f"exit status {done.returncode}"
        raise PdfError(f"cannot make {out.name}: Chromium failed: {why}")
