"""The demo's status page in headless Chromium (Debian's /usr/bin/chromium via Playwright)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import headless_chromium

from .helpers import DEMO, Http, Proc, free_port, monitor_cmd, poll, start_monitor

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo() -> Iterator[tuple[str, Http]]:
    """`mpp-monitor demo` with no random faults: (status page URL, simulator control)."""
    listen, control = free_port(), free_port()
    proc = Proc(
        monitor_cmd(
            "demo",
            "--faults",
            "none",
            "--listen",
            f"127.0.0.1:{listen}",
            "--control",
            f"127.0.0.1:{control}",
        )
    )
    try:
        out = proc.wait_output("Stop with Ctrl-C", 30)
        url = f"http://127.0.0.1:{listen}/"
        assert f"Status page   {url}" in out and f"Metrics       {url}metrics" in out
        yield url, Http(f"http://127.0.0.1:{control}")
        assert proc.stop(signal.SIGINT) == 0, proc.stderr
        assert "Traceback" not in proc.stderr, proc.stderr
    finally:
        proc.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """A fresh headless Chromium profile for the module."""
    with headless_chromium() as ctx:
        yield ctx


def test_demo_page_shows_the_grid_and_a_fault(demo: tuple[str, Http], browser) -> None:  # type: ignore[no-untyped-def]
    url, control = demo
    page = browser.new_page()
    try:
        page.goto(url)
        assert page.locator("html").get_attribute("lang") == "id"
        tiles = page.locator("#counters .counter")
        assert tiles.count() == 44
        numbers = [int(tiles.nth(i).locator(".num").inner_text()) for i in range(44)]
        assert numbers == list(range(1, 45))
        assert "Gerai (44)" in page.content()

        def serving() -> int | None:
            page.reload()
            n = page.locator('#counters .counter[data-state="serving"]').count()
            return n if n >= 43 else None  # gerai 43 is in a maintenance window

        poll(serving, 40, "the counters to turn green", step=1.0)
        grey = page.locator('#counters .counter[data-state="maintenance"]')
        assert grey.count() == 1 and grey.locator(".num").inner_text() == "43"
        assert page.locator("#uplinks .link").count() == 2

        status, _, body = control.request(
            "/faults", method="POST", body={"entity": "gerai-07-pc", "fault": "down"}
        )
        assert status == 200, body
        try:
            row = 'tr[data-entity="demo/device/gerai-07-pc"]'

            def fault_shown() -> bool:
                page.reload()
                return page.locator(row).count() == 1

            poll(fault_shown, 40, "the fault on the page", step=1.0)
            tile = page.locator('#counters .counter[data-number="7"]')
            assert tile.get_attribute("data-state") == "not_serving"
            text = page.locator(row).inner_text()
            assert "Gerai 7" in text and "Tim TI Disdukcapil" in text and "Mati" in text
            page.get_by_text("English").click()
            page.wait_for_url("**?lang=en")
            assert "Counters (44)" in page.content()
            assert "Down" in page.locator(row).inner_text()
        finally:
            control.request("/faults", method="DELETE")
    finally:
        page.close()


def test_script_in_a_name_is_shown_not_run(demo: tuple[str, Http], browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    evil = "<script>window.__xss = 1; alert(1)</script>"
    config = tmp_path / "evil.yaml"
    text = DEMO.read_text()
    assert "name: BPJS Kesehatan\n" in text and "name: VClaim\n" in text
    config.write_text(
        text.replace("name: BPJS Kesehatan\n", f'name: "BPJS {evil}"\n').replace(
            "name: VClaim\n", f'name: "VClaim {evil}"\n'
        )
    )
    proc, http, _ = start_monitor(config)
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        page.goto(http.base + "/")
        agency = page.locator('.agencybox[data-agency="bpjs-kes"]')
        assert agency.locator("h3").inner_text() == f"BPJS {evil}"
        assert f"VClaim {evil}" in agency.inner_text()
        assert page.evaluate("window.__xss") is None
        assert dialogs == []
    finally:
        page.close()
        proc.stop()
        proc.close()
