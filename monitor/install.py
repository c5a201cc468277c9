"""`mpp-monitor install`: add mpp-monitor to Debian's Prometheus and Alertmanager, never replace.

Debian 12's ``prometheus`` and ``prometheus-alertmanager`` packages ship working configs with
jobs and routes of their own (the ``prometheus`` and ``node`` scrape jobs; an example route
tree). An officer who overwrites them with ``render`` output loses those. :func:`plan` instead
reads the files under ``root`` and returns what each should become:

- ``etc/prometheus/prometheus.yml``: our scrape jobs (``mpp-monitor``, ``mpp-notifier`` when
  the notifier runs apart, ``alertmanager`` unless a job already scrapes it) replace jobs of
  the same name or are appended; our rule file is added to ``rule_files``; our Alertmanager is
  added to ``alerting`` unless it is there; the external labels ``site`` and ``team`` are set
  (alerts about the monitor itself need them), other labels kept. Every other key stays.
- ``etc/prometheus/mpp-monitor-rules.yml``: the alert and recording rules (alerts/mpp-rules.yml).
- ``etc/prometheus/alertmanager.yml``: one route, first among the root's children, takes every
  ``Mpp…`` alert into our route tree; our receivers and time intervals carry the prefix
  ``mpp/``; our inhibition rules are narrowed to ``Mpp…`` alerts so they never touch anyone
  else's. Whatever was ours before (the prefix, the narrowing matcher) is replaced, the rest is
  kept, so running install again changes nothing.
- ``etc/default/prometheus``: ``--storage.tsdb.retention.time`` raised to what the monthly
  report needs (at least 45 days: a month and the month before it), never lowered.
- the systemd units of deploy/ with the real path of the command, and
  ``etc/default/mpp-monitor`` only when there is none (it holds tokens).

Closed days are rendered from last year to two years ahead; the monthly
``mpp-monitor-refresh.timer`` re-runs install, so the window moves with the calendar instead of
running out one January.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.compat import StringIO

from monitor.inventory.model import Inventory
from monitor.render.alertmanager import RenderOptions, alertmanager_config
from monitor.render.prometheus import prometheus_config

ROOT = Path(__file__).resolve().parent.parent
RULES_SOURCE = ROOT / "alerts" / "mpp-rules.yml"
DEPLOY = ROOT / "deploy"
INSTALLED_COMMAND = "/usr/local/bin/mpp-monitor"

PREFIX = "mpp/"  # our receivers and time intervals in a shared alertmanager.yml
OURS = 'alertname=~"Mpp.+"'  # the matcher that takes our alerts (and marks our rules)
RULES_NAME = "mpp-monitor-rules.yml"  # beside prometheus.yml: relative paths resolve there
MIN_RETENTION_DAYS = 45
RETENTION_FLAG = "--storage.tsdb.retention.time"


class InstallError(Exception):
    """A file under the root cannot be merged (unreadable, not YAML, not a mapping...)."""


@dataclass(frozen=True)
class Options:
    """Where and what to install."""

    root: Path = Path("/")
    monitor: str = "127.0.0.1:9469"
    notifier: str = ""  # host:port of `mpp-monitor notify` when it runs apart
    alertmanager: str = "localhost:9093"
    retention_days: int = 90
    command: str = INSTALLED_COMMAND  # what the units run
    alertmanager_options: RenderOptions = field(default_factory=RenderOptions)
    today: dt.date | None = None  # for the closed-day window (tests); default: today


@dataclass(frozen=True)
class Change:
    """One file: its text now (None: absent) and what install writes."""

    path: Path  # relative to the root
    old: str | None
    new: str
    why: str
    mode: int = 0o644

    @property
    def changed(self) -> bool:
        return self.old != self.new

    def diff(self) -> str:
        """A unified diff of the change, for --dry-run."""
        return "".join(
            difflib.unified_diff(
                (self.old or "").splitlines(keepends=True),
                self.new.splitlines(keepends=True),
                f"/{self.path} (now)",
                f"/{self.path} (after install)",
            )
        )


# ---- YAML, round trip (comments in Debian's files survive) ---------------------------------


def _yaml() -> YAML:
    yaml = YAML()  # round-trip
    yaml.preserve_quotes = True
    yaml.width = 120
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _load(path: Path, text: str) -> CommentedMap:
    try:
        data = _yaml().load(text)
    except Exception as exc:  # ruamel raises many kinds; each means "not YAML"
        raise InstallError(f"{path}: not valid YAML: {exc}") from exc
    if data is None:
        return CommentedMap()
    if not isinstance(data, CommentedMap):
        raise InstallError(f"{path}: expected a mapping at the top, found {type(data).__name__}")
    return data


def _dump(data: Any) -> str:
    buf = StringIO()
    _yaml().dump(data, buf)
    return str(buf.getvalue())


def _plain(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(text)


def _child(parent: dict[str, Any], key: str, kind: type[Any], what: str) -> Any:
    """``parent[key]``, created empty when absent or null (``rule_files:`` with nothing);
    InstallError when it is there but not a ``what``."""
    value = parent.get(key)
    if value is None:
        value = CommentedSeq() if kind is list else CommentedMap()
        parent[key] = value
    if not isinstance(value, kind):
        raise InstallError(f"{key}: expected {what}, found {type(value).__name__}")
    return value


def _seq(parent: dict[str, Any], key: str) -> list[Any]:
    """``parent[key]`` as a list (see _child)."""
    value: list[Any] = _child(parent, key, list, "a list")
    return value


def _map(parent: dict[str, Any], key: str) -> dict[str, Any]:
    """``parent[key]`` as a mapping (see _child)."""
    value: dict[str, Any] = _child(parent, key, dict, "a mapping")
    return value


# ---- prometheus.yml --------------------------------------------------------------------------


def _targets(job: Any) -> set[str]:
    out: set[str] = set()
    for static in (job or {}).get("static_configs") or []:
        out.update(str(t) for t in (static or {}).get("targets") or [])
    return out


def _same_host(a: str, b: str) -> bool:
    """``localhost:9093`` and ``127.0.0.1:9093`` are the same Alertmanager."""
    local = {"localhost", "127.0.0.1", "[::1]"}
    ha, _, pa = a.rpartition(":")
    hb, _, pb = b.rpartition(":")
    return pa == pb and (ha == hb or (ha in local and hb in local))


def merge_prometheus(existing: CommentedMap, inv: Inventory, opts: Options) -> CommentedMap:
    """Debian's prometheus.yml with our jobs, rules, Alertmanager and labels added."""
    am = opts.alertmanager_options
    ours = prometheus_config(
        inv,
        monitor_targets=[opts.monitor],
        alertmanager=[opts.alertmanager],
        rule_files=[RULES_NAME],
        scrape_interval=str((existing.get("global") or {}).get("scrape_interval") or "15s"),
        notifier_targets=[opts.notifier] if opts.notifier else None,
        # the web server's basic auth guards /metrics as well as the webhook
        scrape_auth=((am.notifier_user, am.notifier_password_file) if am.notifier_user else None),
    )
    labels = _map(_map(existing, "global"), "external_labels")
    labels.update(ours["global"]["external_labels"])

    rules = _seq(existing, "rule_files")
    for rule in ours["rule_files"]:
        if rule not in rules:
            rules.append(rule)

    managers = _seq(_map(existing, "alerting"), "alertmanagers")
    known = {t for m in managers for t in _targets(m)}
    if not any(_same_host(t, opts.alertmanager) for t in known):
        managers.append({"static_configs": [{"targets": [opts.alertmanager]}]})

    jobs = _seq(existing, "scrape_configs")
    wanted = [dict(j) for j in ours["scrape_configs"]]
    scraped = {t for j in jobs if j.get("job_name") != "alertmanager" for t in _targets(j)}
    if not any(_same_host(t, opts.alertmanager) for t in scraped):
        # Alertmanager's own metrics show failed notifications
        # (alertmanager_notifications_failed_total): scrape it too.
        wanted.append(
            {"job_name": "alertmanager", "static_configs": [{"targets": [opts.alertmanager]}]}
        )
    for job in wanted:
        if not job.get("metric_relabel_configs"):
            job.pop("metric_relabel_configs", None)
        names = [j.get("job_name") for j in jobs]
        if job["job_name"] in names:
            jobs[names.index(job["job_name"])] = job
        else:
            jobs.append(job)
    for key in ("remote_write",):  # written by render when the site feeds a central store
        for item in ours.get(key) or []:
            items = _seq(existing, key)
            urls = [i.get("url") for i in items]
            if item.get("url") in urls:
                items[urls.index(item.get("url"))] = item
            else:
                items.append(item)
    return existing


# ---- alertmanager.yml ------------------------------------------------------------------------


def _renamed(route: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """A copy of a route tree with receivers and time intervals given our prefix."""
    out = dict(route)
    if "receiver" in out:
        out["receiver"] = names.get(out["receiver"], PREFIX + out["receiver"])
    for key in ("active_time_intervals", "mute_time_intervals"):
        if key in out:
            out[key] = [PREFIX + name for name in out[key]]
    if "routes" in out:
        out["routes"] = [_renamed(r, names) for r in out["routes"]]
    return out


def _is_ours(rule: Any) -> bool:
    return OURS in ((rule or {}).get("source_matchers") or [])


def closed_day_years(inv: Inventory, today: dt.date) -> tuple[int, ...]:
    """Last year to two years ahead, and any year the inventory's extra closed dates name."""
    years = set(range(today.year - 1, today.year + 3))
    for site in inv.sites:
        years.update(d.year for d in site.closed_days.extra)
    return tuple(sorted(years))


def merge_alertmanager(existing: CommentedMap, inv: Inventory, opts: Options) -> CommentedMap:
    """Debian's alertmanager.yml with our route tree, receivers and inhibitions added."""
    today = opts.today or dt.date.today()
    am_opts = replace(opts.alertmanager_options, holiday_years=closed_day_years(inv, today))
    ours = alertmanager_config(inv, am_opts)
    names = {r["name"]: PREFIX + r["name"] for r in ours["receivers"]}

    # The global section belongs to whoever set up e-mail first: ours only fills a gap (an
    # smtp_require_tls of ours must not switch off TLS for someone else's receivers).
    glob = _map(existing, "global")
    if "smtp_smarthost" not in glob:
        for key, value in ours["global"].items():
            if key.startswith("smtp_"):
                glob.setdefault(key, value)

    root = _map(existing, "route")
    if "receiver" not in root:
        root["receiver"] = names[ours["route"]["receiver"]]
    children = _seq(root, "routes")
    kept = [r for r in children if OURS not in ((r or {}).get("matchers") or [])]
    tree = _renamed(ours["route"], names)
    tree["matchers"] = [OURS]
    tree["continue"] = False
    children[:] = [tree, *kept]

    receivers = _seq(existing, "receivers")
    receivers[:] = [
        *(r for r in receivers if not str(r.get("name", "")).startswith(PREFIX)),
        *({**r, "name": names[r["name"]]} for r in ours["receivers"]),
    ]

    intervals = _seq(existing, "time_intervals")
    intervals[:] = [
        *(t for t in intervals if not str(t.get("name", "")).startswith(PREFIX)),
        *({**t, "name": PREFIX + t["name"]} for t in ours.get("time_intervals", [])),
    ]
    if not intervals:
        del existing["time_intervals"]

    inhibit = _seq(existing, "inhibit_rules")
    inhibit[:] = [
        *(r for r in inhibit if not _is_ours(r)),
        *(
            {
                **r,
                "source_matchers": [OURS, *r.get("source_matchers", [])],
                "target_matchers": [OURS, *r.get("target_matchers", [])],
            }
            for r in ours.get("inhibit_rules", [])
        ),
    ]
    return existing


# ---- /etc/default/prometheus -----------------------------------------------------------------

_ARGS = re.compile(r'^ARGS=(?P<value>"[^"]*"|\'[^\']*\'|\S*)[ \t]*$', re.MULTILINE)
_PART = re.compile(r"(\d+)(ms|[ywdhms])")
_DAYS = {"y": 365.0, "w": 7.0, "d": 1.0, "h": 1 / 24, "m": 1 / 1440, "s": 1 / 86400, "ms": 0.0}


def _days(value: str) -> float | None:
    """Days in a Prometheus duration (``15d``, ``2w``, ``1y12h``); None when not a duration."""
    if not re.fullmatch(r"(\d+(ms|[ywdhms]))+", value):
        return None
    return sum(int(n) * _DAYS[unit] for n, unit in _PART.findall(value))


def with_retention(text: str, days: int) -> str:
    """/etc/default/prometheus with at least ``days`` of retention in ARGS (never less)."""
    m = _ARGS.search(text)
    quoted = shlex.split(m.group("value")) if m else []  # ARGS="a b" -> ["a b"]
    args = shlex.split(quoted[0]) if quoted else []
    out: list[str] = []
    current: float | None = None
    for arg in args:
        if arg.startswith(RETENTION_FLAG + "="):
            current = _days(arg.split("=", 1)[1])
            continue
        out.append(arg)
    keep = current is not None and current >= days
    old = next((a for a in args if a.startswith(RETENTION_FLAG + "=")), "")
    out.append(old if keep else f"{RETENTION_FLAG}={days}d")
    line = "ARGS=" + '"' + " ".join(out) + '"'
    if m is None:
        return text + ("" if text.endswith("\n") or not text else "\n") + line + "\n"
    return text[: m.start()] + line + text[m.end() :]


# ---- the plan --------------------------------------------------------------------------------


def _read(root: Path, rel: str) -> str | None:
    path = root / rel
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InstallError(f"{path}: {exc.strerror or exc}") from exc


def _merged(root: Path, rel: str, merge: Any, inv: Inventory, opts: Options) -> Change:
    old = _read(root, rel)
    data = _load(root / rel, old or "")
    new = _dump(merge(data, inv, opts))
    if old is not None and _plain(old) == _plain(new):
        new = old  # the same configuration: leave the file (and its layout) alone
    why = "our jobs, rules and routes added; the rest kept"
    return Change(Path(rel), old, new, why if old is not None else "created")


def units(command: str) -> Iterable[tuple[str, str]]:
    """(file name, text) of each systemd unit of deploy/, running ``command``."""
    for path in sorted([*DEPLOY.glob("*.service"), *DEPLOY.glob("*.timer")]):
        yield path.name, path.read_text(encoding="utf-8").replace(INSTALLED_COMMAND, command)


def plan(inv: Inventory, opts: Options) -> list[Change]:
    """Every file install writes under ``opts.root``, with its present text."""
    if opts.retention_days < MIN_RETENTION_DAYS:
        raise InstallError(
            f"--retention {opts.retention_days}d: the monthly report needs at least "
            f"{MIN_RETENTION_DAYS} days (a whole month and the one before it)"
        )
    root = opts.root
    changes = [
        _merged(root, "etc/prometheus/prometheus.yml", merge_prometheus, inv, opts),
        Change(
            Path("etc/prometheus") / RULES_NAME,
            _read(root, f"etc/prometheus/{RULES_NAME}"),
            RULES_SOURCE.read_text(encoding="utf-8"),
            "mpp-monitor's alert and recording rules",
        ),
        _merged(root, "etc/prometheus/alertmanager.yml", merge_alertmanager, inv, opts),
    ]
    default = _read(root, "etc/default/prometheus")
    changes.append(
        Change(
            Path("etc/default/prometheus"),
            default,
            with_retention(default or "", opts.retention_days),
            f"retention at least {opts.retention_days} days for the monthly report",
        )
    )
    for name, text in units(opts.command):
        rel = f"etc/systemd/system/{name}"
        changes.append(Change(Path(rel), _read(root, rel), text, "systemd unit"))
    env = _read(root, "etc/default/mpp-monitor")
    if env is None:  # holds tokens: written once, never overwritten
        text = (DEPLOY / "mpp-monitor.default").read_text(encoding="utf-8")
        changes.append(Change(Path("etc/default/mpp-monitor"), None, text, "tokens", 0o600))
    return changes


def apply(changes: Iterable[Change], root: Path, stamp: str) -> list[Path]:
    """Write every changed file; keep the old one as ``NAME.mpp-monitor-STAMP``. The written."""
    written: list[Path] = []
    for change in changes:
        if not change.changed:
            continue
        path = root / change.path
        path.parent.mkdir(parents=True, exist_ok=True)
        if change.old is not None:
            backup = path.with_name(f"{path.name}.mpp-monitor-{stamp}")
            backup.write_text(change.old, encoding="utf-8")
        tmp = path.with_name(f".{path.name}.mpp-monitor-tmp")
        tmp.write_text(change.new, encoding="utf-8")
        tmp.chmod(path.stat().st_mode & 0o7777 if path.exists() else change.mode)
        tmp.replace(path)
        written.append(path)
    return written
