"""`mpp-monitor run` against `mpp-monitor simulate examples/demo.yaml`, both as real processes."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.exposition import metric_samples

from .helpers import (
    DEMO,
    Http,
    Proc,
    monitor_cmd,
    poll,
    start_monitor,
    start_simulator,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def simulator() -> Iterator[Http]:
    """The demo's simulated MPP (no random faults) for the whole module."""
    proc, control = start_simulator()
    try:
        yield control
    finally:
        proc.stop()
        proc.close()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A private copy of the demo inventory (tests edit it)."""
    path = tmp_path / "inventory.yaml"
    shutil.copy(DEMO, path)
    return path


@pytest.fixture
def monitor(config: Path, simulator: Http) -> Iterator[tuple[Proc, Http]]:
    """`mpp-monitor run` on the private copy, listening on a free port."""
    proc, http, _ = start_monitor(config)
    try:
        yield proc, http
    finally:
        proc.stop()
        proc.close()


def demo_target_ids() -> set[str]:
    """What `mpp-monitor targets examples/demo.yaml --json` lists."""
    out = subprocess.run(
        monitor_cmd("targets", str(DEMO), "--json"), capture_output=True, check=True, timeout=60
    )
    return {t["id"] for t in json.loads(out.stdout)}


def probe_success(http: Http) -> dict[str, float]:
    status, _, body = http.get("/metrics")
    assert status == 200
    return metric_samples(body, "probe_success")


def test_metrics_has_probe_success_for_every_listed_target(monitor: tuple[Proc, Http]) -> None:
    _, http = monitor
    wanted = demo_target_ids()
    assert len(wanted) > 150
    # every target runs once within its 5 s interval (start times are spread over it)
    series = poll(
        lambda: (s := probe_success(http)) and wanted <= set(s) and s,
        deadline=30,
        what="a probe_success series for every target",
    )
    assert set(series) == wanted
    # with no faults, the simulated MPP answers every probe
    failing = sorted(t for t, v in series.items() if v != 1.0)
    assert not failing, failing
    assert http.get("/-/ready")[0] == 200


def test_reload_with_broken_file_keeps_old_targets(
    monitor: tuple[Proc, Http], config: Path
) -> None:
    proc, http = monitor
    wanted = demo_target_ids()
    poll(lambda: wanted <= set(probe_success(http)), 30, "all series")
    good = config.read_text()
    config.write_text(good + "\n  - id: [broken\n")
    status, _, body = http.request("/-/reload", method="POST")
    assert status == 400
    assert f"{config}:" in body and "YAML syntax error" in body
    _, _, text = http.get("/metrics")
    assert metric_samples(text, "mpp_config_last_reload_successful") == {"{}": 0.0}
    assert set(metric_samples(text, "probe_success")) == wanted
    # the page says the new file was refused
    assert 'id="reload-failed"' in http.get("/")[2]
    # SIGHUP takes the same path: a repaired file is applied
    config.write_text(good)
    proc.send(signal.SIGHUP)
    poll(
        lambda: (
            metric_samples(http.get("/metrics")[2], "mpp_config_last_reload_successful")
            == {"{}": 1.0}
        ),
        10,
        "a successful reload after SIGHUP",
    )


def test_reload_removing_a_target_removes_its_series(
    monitor: tuple[Proc, Http], config: Path
) -> None:
    _, http = monitor
    gone = "demo/infra/router/icmp"
    wanted = demo_target_ids()
    poll(lambda: wanted <= set(probe_success(http)), 30, "every target scraped")
    text = config.read_text()
    assert 'checks: [icmp, "tcp:8022"]' in text
    config.write_text(text.replace('checks: [icmp, "tcp:8022"]', 'checks: ["tcp:8022"]'))
    status, _, body = http.request("/-/reload", method="POST")
    assert status == 200, body
    _, _, metrics = http.get("/metrics")
    assert gone not in metrics
    assert set(metric_samples(metrics, "probe_success")) == wanted - {gone}
    api = http.json("/api/v1/status")
    assert all(gone != t for e in api["entities"] for t in e.get("targets", []))


def test_switch_down_makes_its_counters_unreachable_owned_by_kominfo(
    monitor: tuple[Proc, Http], simulator: Http
) -> None:
    _, http = monitor
    poll(
        lambda: all(c["can_serve"] is True for c in http.json("/api/v1/status")["counters"]),
        30,
        "every counter serving",
    )
    simulator.request("/faults", method="POST", body={"entity": "sw-lantai1", "fault": "down"})
    try:

        def switched() -> dict[str, dict[str, str]] | None:
            api = http.json("/api/v1/status")
            ents = {e["id"]: e for e in api["entities"]}
            pc = ents["demo/device/gerai-07-pc"]
            return ents if pc["status"] == "unreachable" else None

        ents = poll(switched, 30, "gerai 7's PC unreachable")
        assert ents["demo/infra/sw-lantai1"]["status"] == "down"
        assert ents["demo/infra/sw-lantai1"]["owner"] == "kominfo"
        pc = ents["demo/device/gerai-07-pc"]
        assert pc["team"] == "it-dukcapil" and pc["owner"] == "kominfo"
        api = http.json("/api/v1/status")
        counters = {c["number"]: c for c in api["counters"]}
        assert counters[7]["can_serve"] is False and counters[7]["state"] == "not_serving"
        assert counters[30]["can_serve"] is True  # behind the other switch
        # the page lists the switch as the cause, its counters as affected
        page = http.get("/")[2]
        assert 'data-entity="demo/infra/sw-lantai1"' in page
        assert 'data-entity="demo/device/gerai-07-pc"' not in page  # grouped under the switch
    finally:
        simulator.request("/faults", method="DELETE")


def test_slow_clients_on_the_page_do_not_block_scrapes(monitor: tuple[Proc, Http]) -> None:
    _, http = monitor
    port = int(http.base.rsplit(":", 1)[1])
    held: list[socket.socket] = []
    try:
        for i in range(40):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            if i % 2:
                # slowloris: an unfinished request head
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-a: ")
            else:
                # a reader that never reads a (large) answer
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            held.append(s)
        for _ in range(5):
            start = time.monotonic()
            status, _, body = http.get("/metrics", timeout=5)
            assert status == 200 and "mpp_build_info" in body
            assert time.monotonic() - start < 2.0
            for s in held[1::2]:
                s.sendall(b"a")  # keep dripping
    finally:
        for s in held:
            s.close()


def test_sigterm_stops_quickly_without_traceback(config: Path, simulator: Http) -> None:
    proc, http, _ = start_monitor(config)
    try:
        poll(lambda: probe_success(http), 30, "first results")
        # a scrape in flight and an open keep-alive connection do not hold the exit
        held = socket.create_connection(("127.0.0.1", int(http.base.rsplit(":", 1)[1])))
        try:
            rc = proc.stop(signal.SIGTERM, timeout=20)
        finally:
            held.close()
        assert rc == 0, proc.stderr
        assert proc.stopped_in is not None and proc.stopped_in < 5.0, proc.stopped_in
        assert "Traceback" not in proc.stderr, proc.stderr
        assert "stopped" in proc.stderr
    finally:
        proc.close()
