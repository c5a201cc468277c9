"""The committed sample report printed to PDF by the real headless Chromium, every page
rendered to PNG by poppler's pdftoppm, and the text of page 1 (pdftotext) checked: it holds
the executive summary with the counters' availability; the pages are numbered and the last
one carries the signatures."""

from __future__ import annotations

import csv
import shutil
import subprocess
from pathlib import Path

import pytest

from monitor.report.pdf import PdfError, html_to_pdf

pytestmark = pytest.mark.slow

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "report-2026-02"
A4 = 297 / 210  # height / width


def run(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=120).stdout


def page_text(pdf: Path, page: int) -> str:
    return run("pdftotext", "-layout", "-f", str(page), "-l", str(page), str(pdf), "-")


@pytest.fixture(scope="module")
def pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    html = next(SAMPLE.glob("report-*-2026-02.html")).read_text(encoding="utf-8")
    out = tmp_path_factory.mktemp("pdf") / "report.pdf"
    html_to_pdf(html, out)
    return out


def counters_availability() -> str:
    with (SAMPLE / "availability.csv").open(encoding="utf-8", newline="") as f:
        row = next(r for r in csv.DictReader(f) if r["id"] == "counters")
    return f"{float(row['availability_pct']):.2f} %".replace(".", ",")


def test_every_page_renders_and_page_one_holds_the_summary(pdf: Path) -> None:
    assert pdf.read_bytes().startswith(b"%PDF-")
    pages = int(
        next(x for x in run("pdfinfo", str(pdf)).splitlines() if x.startswith("Pages:")).split()[1]
    )
    assert pages >= 3
    png = pdf.parent / "page"
    run("pdftoppm", "-r", "40", "-png", str(pdf), str(png))
    images = sorted(pdf.parent.glob("page-*.png"))
    assert len(images) == pages
    for image in images:
        data = image.read_bytes()
        assert data.startswith(b"\x89PNG")
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert height / width == pytest.approx(A4, rel=0.02), image.name  # A4 portrait
    first = page_text(pdf, 1)
    assert "Ringkasan eksekutif" in first
    assert f"Gerai dapat melayani {counters_availability()} dari jam layanan terukur" in first
    assert "Internet per penyedia (SLA)" not in first  # the summary has page one to itself
    assert f"Halaman 1 / {pages}" in first
    last = page_text(pdf, pages)
    assert f"Halaman {pages} / {pages}" in last
    assert "Mengetahui," in last and "Disusun oleh," in last


def test_a_missing_browser_is_one_clear_line(tmp_path: Path) -> None:
    assert shutil.which("no-such-chromium") is None
    with pytest.raises(PdfError, match="cannot make the PDF: no-such-chromium not found"):
        html_to_pdf("<!DOCTYPE html><p>x", tmp_path / "x.pdf", "no-such-chromium")
    assert not (tmp_path / "x.pdf").exists()
