"""Time from a full uplink cut to the SMS in gammu-smsd's ``sent/`` folder (the local fast path).

The demo building (``mpp-monitor simulate``) with Kominfo reached by SMS through a real
``gammu-smsd`` on gammu's dummy phone, and ``mpp-monitor run`` with its notifier (the fast
path watches the monitor's own ``mpp_site_internet_up``: no Prometheus or Alertmanager
window in between). Each round cuts both uplinks at the simulator, waits for the SMS, heals
and waits for the "PULIH" SMS. Loopback only; bounded rounds and time.

    python bench/offline_sms.py                      # production defaults: 30 s, down_after 2
    python bench/offline_sms.py --interval 5 --rounds 3

Prints one line per round and the spread. For comparison, the Alertmanager path with the
production rules needs detection + ``for: 2m`` + ``group_wait: 30s`` (about 3.5 to 4 min).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from monitor.render.smsd import dummy_smsd, sent_messages  # noqa: E402

DEMO = REPO / "examples" / "demo.yaml"
LINKS = ("isp-a", "isp-b")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sent_texts(spool: Path) -> list[str]:
    """The texts gammu-smsd has sent, oldest first."""
    return [text for _, text in sent_messages(spool)]


def _wait(what: str, check: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.1)


def measure(
    interval: float, down_after: int, rounds: int, workdir: Path
) -> list[tuple[float, float]]:
    """(cut -> offline SMS, heal -> PULIH SMS) seconds for each round."""
    smsdrc, spool = dummy_smsd(workdir)
    yaml = YAML()
    inv = yaml.load(DEMO.read_text(encoding="utf-8"))
    inv["defaults"] = {
        "interval": f"{interval:g}s",
        "timeout": f"{min(5.0, interval / 2):g}s",
        "down_after": down_after,
        "up_after": down_after,
    }
    for team in inv["sites"][0]["teams"]:
        if team["id"] == "kominfo":
            team["channels"] = [{"kind": "sms", "to": "0812-3456-7890", "smsd_config": str(smsdrc)}]
    config = workdir / "inventory.yaml"
    with config.open("w", encoding="utf-8") as f:
        yaml.dump(inv, f)
    control, listen = _port(), _port()
    py = [sys.executable, "-m", "monitor"]
    logs = [open(workdir / f"{n}.log", "wb") for n in ("smsd", "simulate", "run")]  # noqa: SIM115
    procs = [
        subprocess.Popen(["gammu-smsd", "-c", str(smsdrc)], stdout=logs[0], stderr=logs[0]),
        subprocess.Popen(
            [*py, "simulate", str(config), "--faults", "none", "--control", f"127.0.0.1:{control}"],
            stdout=logs[1],
            stderr=logs[1],
            cwd=REPO,
        ),
        subprocess.Popen(
            [
                *py,
                "run",
                "--config",
                str(config),
                "--listen",
                f"127.0.0.1:{listen}",
                "--outbox",
                str(workdir / "outbox.sqlite"),
            ],
            stdout=logs[2],
            stderr=logs[2],
            cwd=REPO,
        ),
    ]

    def internet() -> float | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{listen}/api/v1/status", timeout=2) as r:
                up = json.load(r)["sites"][0].get("internet_up")
        except OSError:
            return None
        return None if up is None else float(up)

    def fault(on: bool) -> None:
        for link in LINKS:
            body = json.dumps({"entity": link, "fault": "down", "on": on}).encode()
            req = urllib.request.Request(
                f"http://127.0.0.1:{control}/faults",
                data=body,
                headers={"Content-Type": "application/json"},
            )
            urllib.request.urlopen(req, timeout=5).close()

    out: list[tuple[float, float]] = []
    try:
        _wait("internet up", lambda: internet() == 1.0, 30 + 4 * interval * down_after)
        for _ in range(rounds):
            before = len(sent_texts(spool))
            cut = time.monotonic()
            fault(True)
            _wait("the offline SMS", lambda n=before: len(sent_texts(spool)) > n, 60 + 4 * interval)
            to_sms = time.monotonic() - cut
            healed = time.monotonic()
            fault(False)
            _wait(
                "the PULIH SMS", lambda n=before: len(sent_texts(spool)) > n + 1, 60 + 4 * interval
            )
            out.append((to_sms, time.monotonic() - healed))
            _wait("internet up", lambda: internet() == 1.0, 30 + 4 * interval * down_after)
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        for f in logs:
            f.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=30.0, help="probe interval (s)")
    parser.add_argument("--down-after", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, choices=range(1, 11))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mpp-offline-sms-") as tmp:
        results = measure(args.interval, args.down_after, args.rounds, Path(tmp))
        texts = sent_texts(Path(tmp) / "spool")
    for i, (cut, heal) in enumerate(results, 1):
        print(f"round {i}: cut -> SMS {cut:5.1f} s   heal -> PULIH SMS {heal:5.1f} s")
    cuts = sorted(c for c, _ in results)
    print(
        f"interval {args.interval:g} s, down_after {args.down_after}: cut -> SMS "
        f"min {cuts[0]:.1f} s, median {cuts[len(cuts) // 2]:.1f} s, max {cuts[-1]:.1f} s"
    )
    print("texts:", *texts[:2], sep="\n  ")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
