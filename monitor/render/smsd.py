"""gammu-smsdrc for the SMS channel: gammu-smsd with the files backend on a GSM modem.

A USB modem (Huawei E153/E3531, ZTE MF190 and the like, in serial mode) shows up as
``/dev/ttyUSB0`` (or ``/dev/serial/by-id/...``, stable across reboots) with connection ``at``.
``device=DIR, connection=none, model=dummy`` is gammu's phone emulator (tests and demos): it
"sends" by moving messages to ``sent/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SmsdOptions:
    """Where the modem is and where gammu-smsd keeps its spool."""

    device: str = "/dev/ttyUSB0"
    connection: str = "at"
    model: str = ""  # "dummy" for gammu's emulator
    spool: Path = Path("/var/spool/gammu")
    logfile: str = "syslog"
    phone_id: str = "mpp-monitor"


def render_smsd(opts: SmsdOptions | None = None) -> str:
    """The gammu-smsdrc text."""
    o = opts or SmsdOptions()
    lines = [
        "# Rendered by `mpp-monitor render smsd`: gammu-smsd for mpp-monitor's SMS channel.",
        "# Install as /etc/gammu-smsdrc (Debian's gammu-smsd service reads it), then",
        "# `systemctl restart gammu-smsd`. Check the modem with",
        "# `gammu -c /etc/gammu-smsdrc identify` (stop gammu-smsd first: one user of the modem).",
        "[gammu]",
        f"device = {o.device}",
        f"connection = {o.connection}",
    ]
    if o.model:
        lines.append(f"model = {o.model}")
    spool = str(o.spool).rstrip("/")
    lines += [
        "",
        "[smsd]",
        "service = files",
        f"phoneid = {o.phone_id}",
        f"logfile = {o.logfile}",
        "debuglevel = 0",
        f"inboxpath = {spool}/inbox/",
        f"outboxpath = {spool}/outbox/",
        f"sentsmspath = {spool}/sent/",
        f"errorsmspath = {spool}/error/",
        "# poll the outbox every second: an alert SMS should not wait",
        "commtimeout = 1",
        "sendtimeout = 30",
        "deliveryreport = no",
        "",
    ]
    return "\n".join(lines)


def dummy_smsd(workdir: Path) -> tuple[Path, Path]:
    """A gammu-smsdrc for gammu's dummy phone under ``workdir`` (demos, tests, benchmarks):
    return (config file, spool). Start ``gammu-smsd -c CONFIG`` on it."""
    spool = workdir / "spool"
    for d in ("inbox", "outbox", "sent", "error"):
        (spool / d).mkdir(parents=True, exist_ok=True)
    (workdir / "phone").mkdir(exist_ok=True)
    config = workdir / "smsdrc"
    opts = SmsdOptions(
        device=str(workdir / "phone"),
        connection="none",
        model="dummy",
        spool=spool,
        logfile=str(workdir / "smsd.log"),
    )
    config.write_text(render_smsd(opts), encoding="utf-8")
    return config, spool


def sent_messages(spool: Path) -> list[tuple[str, str]]:
    """(number, text) of each message in the spool's ``sent/``, oldest first.

    gammu-smsd's files backend writes ``.smsbackup`` files: ``Number = "+62..."`` and the text
    as UCS-2 (UTF-16-BE) hex split over ``Text00``, ``Text01``..."""
    out: list[tuple[str, str]] = []
    for path in sorted((spool / "sent").glob("*.smsbackup")):
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        fields = dict(ln.split(" = ", 1) for ln in lines if " = " in ln and not ln.startswith(";"))
        hex_text = "".join(v for k, v in sorted(fields.items()) if k.startswith("Text"))
        out.append((fields["Number"].strip('"'), bytes.fromhex(hex_text).decode("utf-16-be")))
    return out
