"""A Prometheus with ``--web.enable-remote-write-receiver`` as the centre (a regency's own).

One real site (simulate + run + its Prometheus remote-writing, tests/central/harness.py,
site 6 so it never meets the five of test_central.py) and a real Prometheus receiving it
and evaluating `render central` itself: the site arrives with its external labels, its
monthly report from the centre equals its own, and MppSiteDark fires there when it stops.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.central import harness as H
from tests.central.test_central import _availability, largest_gap
from tests.e2e.harness import Processes, run_cli

SITE_N = 6
DARK_AFTER = "20s"


@pytest.fixture(scope="module")
def centre(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, H.Site]]:
    work = tmp_path_factory.mktemp("prom-centre")
    procs = Processes(work)
    try:
        rules = work / "central.yml"
        run_cli("render", "central", "--dark-after", DARK_AFTER, "--out", str(rules))
        rules.write_text(re.sub(r"(?m)^(\s+)interval: 1m$", r"\1interval: 5s", rules.read_text()))
        cfg = work / "centre.yml"
        cfg.write_text(f"global: {{evaluation_interval: 5s}}\nrule_files: [{rules}]\n")
        port = H.free_port()
        procs.start("centre", [
            H.PROMETHEUS_BIN, f"--config.file={cfg}", f"--storage.tsdb.path={work / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}", "--web.enable-remote-write-receiver",
        ])  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        H.wait_for("centre ready", lambda: H.ok(url + "/-/ready"), 30)
        site = H.start_site(procs, work, SITE_N, url + "/api/v1/write")
        yield url, site
    finally:
        procs.close()


def test_the_site_arrives_and_its_report_equals_its_own(
    centre: tuple[str, H.Site], tmp_path: Path
) -> None:
    url, site = centre

    def arrived() -> list[dict[str, object]]:
        return H.query(url, f'probe_success{{site="{site.id}"}}')

    got = H.wait_for("the site's probes at the centre", arrived, 60)
    assert {(r["metric"]["region"], r["metric"]["regency"]) for r in got} == {  # type: ignore[index]
        ("kaltim", f"kab{SITE_N}")
    }
    H.wait_for("a minute of samples", lambda: len(H.query(url, "up[90s]")[0]["values"]) > 60, 120)
    now = time.time() - 5
    local = asyncio.run(_availability(site.inventory, site.prometheus_url, site.id, now,
                                      tmp_path / "s"))  # fmt: skip
    remote = asyncio.run(_availability(site.inventory, url, site.id, now, tmp_path / "c"))
    assert largest_gap(local, remote) <= 0.01


def test_site_dark_fires_on_the_prometheus_centre(centre: tuple[str, H.Site]) -> None:
    url, site = centre
    assert not H.query(url, 'ALERTS{alertname="MppSiteDark"}')
    site.stop()
    started = time.monotonic()
    got = H.wait_for("MppSiteDark firing at the centre",
                     lambda: H.query(url, 'ALERTS{alertname="MppSiteDark", alertstate="firing"}'),
                     120)  # fmt: skip
    print(f"\nMppSiteDark on the Prometheus centre after {time.monotonic() - started:.1f}s "
          f"(dark-after {DARK_AFTER})")  # fmt: skip
    assert [(r["metric"]["site"], r["metric"]["team"]) for r in got] == [(site.id, "pusat")]
