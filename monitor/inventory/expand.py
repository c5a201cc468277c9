"""Cross-checks (ids, references, counter numbers) and expansion into a Plan of targets."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urljoin

from pydantic import ValidationError

from monitor.fields import ID_RE, check_host, check_url
from monitor.inventory.load import ConfigError, Document, ErrorItem, Loc, load_inventory
from monitor.inventory.model import TEMPLATE_RE, Anchor, CheckSpec, Inventory, Site
from monitor.plan import (
    TARGET_LABELS,
    AgencyInfo,
    Counter,
    Entity,
    LinkInfo,
    Plan,
    SiteInfo,
    Target,
    TeamInfo,
    counter_label,
)
from probes.registry import SETTINGS, ProbeKind
from probes.settings import IcmpSettings

_TEMPLATE = TEMPLATE_RE


# Headers whose value is a credential: written inline they would reach `targets --json`.
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})


def _numbers_text(numbers: list[int]) -> str:
    """[3] -> "counter 3"; [3, 4, 5] -> "counters 3-5"; [3, 5] -> "counters 3, 5"."""
    if len(numbers) == 1:
        return f"counter {numbers[0]}"
    if numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"counters {numbers[0]}-{numbers[-1]}"
    return "counters " + ", ".join(str(n) for n in numbers)


# Link kinds that are "the internet": when all of them are down the site is offline
# (MppSiteOffline), which explains the failure of what is reached through them only.
INTERNET_KINDS = frozenset({"isp", "dedicated"})
VIA_INTERNET = "internet"
VIA_LOCAL = "local"


def _via(local: bool, links: list[str], link_kind: dict[str, str]) -> str:
    """The ``via`` label of an application: how it is reached (see TARGET_LABELS)."""
    if local:
        return VIA_LOCAL
    if links and all(link_kind.get(x) in INTERNET_KINDS for x in links):
        return VIA_INTERNET
    return ",".join(links)


def _labels(**given: str) -> dict[str, str]:
    return {name: given.get(name, "") for name in TARGET_LABELS}


class _Expander:
    def __init__(self, inv: Inventory, doc: Document) -> None:
        self.inv = inv
        self.doc = doc
        self.errors: list[ErrorItem] = []
        self.targets: list[Target] = []
        self.entities: dict[str, Entity] = {}
        self.counters: list[Counter] = []

    def err(self, loc: Loc, message: str) -> None:
        self.errors.append(self.doc.error(loc, message))

    def unique(self, items: Iterable[tuple[str, Loc]], what: str) -> set[str]:
        seen: dict[str, Loc] = {}
        for ident, loc in items:
            if ident in seen:
                line, _ = self.doc.position(seen[ident])
                self.err(loc, f"duplicate {what} id {ident!r} (first defined at line {line})")
            else:
                seen[ident] = loc
        return set(seen)

    def ref(self, value: str | None, known: set[str], loc: Loc, what: str) -> None:
        if value is not None and value not in known:
            close = difflib.get_close_matches(value, sorted(known), n=1)
            if close:
                hint = f"did you mean {close[0]!r}?"
            elif len(known) <= 12:
                hint = "known: " + (", ".join(sorted(known)) or "none defined")
            else:
                hint = f"{len(known)} defined, e.g. " + ", ".join(sorted(known)[:5])
            self.err(loc, f"unknown {what} {value!r} ({hint})")

    def run(self) -> None:
        self.unique(((s.id, ("sites", i, "id")) for i, s in enumerate(self.inv.sites)), "site")
        for i, site in enumerate(self.inv.sites):
            self.site(site, ("sites", i))

    # one site -------------------------------------------------------------------------
    def site(self, site: Site, at: Loc) -> None:
        teams = self.unique(
            ((t.id, (*at, "teams", i, "id")) for i, t in enumerate(site.teams)), "team"
        )
        links = self.unique(
            ((x.id, (*at, "links", i, "id")) for i, x in enumerate(site.links)), "link"
        )
        infra = self.unique(
            ((x.id, (*at, "infrastructure", i, "id")) for i, x in enumerate(site.infrastructure)),
            "infrastructure device",
        )
        agencies = self.unique(
            ((a.id, (*at, "agencies", i, "id")) for i, a in enumerate(site.agencies)), "agency"
        )
        self.unique(
            ((m.id, (*at, "maintenance", i, "id")) for i, m in enumerate(site.maintenance)),
            "maintenance window",
        )
        self.ref(site.network_team, teams, (*at, "network_team"), "team")
        self.ref(site.manager_team, teams, (*at, "manager_team"), "team")
        net_team = site.network_team
        agency_team: dict[str, str] = {a.id: a.team for a in site.agencies}
        link_kind: dict[str, str] = {x.id: x.kind for x in site.links}

        for i, link in enumerate(site.links):
            loc = (*at, "links", i)
            self.ref(link.team, teams, (*loc, "team"), "team")
            team = link.team or net_team
            eid = f"{site.id}/link/{link.id}"
            labels = _labels(
                site=site.id,
                team=team,
                kind="link",
                entity=eid,
                link=link.id,
                via=VIA_INTERNET if link.kind in INTERNET_KINDS else link.id,
            )
            self.entities[eid] = Entity(
                id=eid,
                kind="link",
                name=link.name,
                site=site.id,
                team=team,
                labels=labels,
                loss_degraded=link.degraded.loss,
                latency_degraded=link.degraded.latency,
            )
            names: dict[str, Loc] = {}
            for j, anchor in enumerate(link.anchors):
                self.anchor(site, link.source, anchor, eid, labels, (*loc, "anchors", j), names)

        for i, dev in enumerate(site.infrastructure):
            loc = (*at, "infrastructure", i)
            self.ref(dev.team, teams, (*loc, "team"), "team")
            self.ref(dev.parent, infra, (*loc, "parent"), "infrastructure device")
            if dev.parent == dev.id:
                self.err((*loc, "parent"), f"{dev.id!r} cannot be its own parent")
            team = dev.team or net_team
            eid = f"{site.id}/infra/{dev.id}"
            labels = _labels(site=site.id, team=team, kind="infra", entity=eid, device=dev.id)
            parents: tuple[str, ...] = (f"{site.id}/infra/{dev.parent}",) if dev.parent else ()
            self.entities[eid] = Entity(
                id=eid,
                kind="infra",
                name=dev.name,
                site=site.id,
                team=team,
                labels=labels,
                depends_on=parents,
            )
            self.checks(site, dev.checks, dev.address, eid, labels, (*loc, "checks"))
        self.cycles(site, at)

        apps_of: dict[str, list[str]] = {}
        app_ids: dict[str, Loc] = {}
        for i, agency in enumerate(site.agencies):
            loc = (*at, "agencies", i)
            self.ref(agency.team, teams, (*loc, "team"), "team")
            for j, app in enumerate(agency.applications):
                aloc = (*loc, "applications", j)
                eid = f"{site.id}/application/{agency.id}-{app.id}"
                if eid in app_ids:
                    line, _ = self.doc.position(app_ids[eid])
                    self.err(
                        (*aloc, "id"),
                        f"duplicate application id {app.id!r} (first defined at line {line})",
                    )
                    continue
                app_ids[eid] = (*aloc, "id")
                for k, name in enumerate(app.links):
                    self.ref(name, links, (*aloc, "links", k), "link")
                self.ref(app.switch, infra, (*aloc, "switch"), "infrastructure device")
                if app.local and app.links:
                    self.err(
                        (*aloc, "links"),
                        "a local application depends on its switch, "
                        "not on links: remove 'links' or 'local'",
                    )
                elif app.local and app.switch is None:
                    self.err(
                        (*aloc, "local"),
                        "a local application needs 'switch': the infrastructure device "
                        "it is reached through",
                    )
                elif app.switch is not None and not app.local:
                    self.err(
                        (*aloc, "switch"),
                        "'switch' is for applications served inside the building: "
                        "add 'local: true' or use 'links'",
                    )
                if app.critical:
                    apps_of.setdefault(agency.id, []).append(eid)
                # reached through its links; with none given, through the site's ISP uplinks
                # (an internet outage must not be charged to the agency)
                via = app.links or (
                    [] if app.local else [x.id for x in site.links if x.kind == "isp"]
                )
                parents = tuple(f"{site.id}/link/{x}" for x in via)
                if app.switch:
                    parents = (f"{site.id}/infra/{app.switch}",)
                labels = _labels(
                    site=site.id,
                    team=agency.team,
                    kind="application",
                    entity=eid,
                    agency=agency.id,
                    via=_via(app.local, via, link_kind),
                )
                self.entities[eid] = Entity(
                    id=eid,
                    kind="application",
                    name=app.name,
                    site=site.id,
                    team=agency.team,
                    labels=labels,
                    depends_on=parents,
                    critical=app.critical,
                )
                self.application(site, app, eid, labels, aloc)

        numbers: dict[int, Loc] = {}
        for i, spec in enumerate(site.counters):
            loc = (*at, "counters", i)
            self.ref(spec.agency, agencies, (*loc, "agency"), "agency")
            self.ref(spec.switch, infra, (*loc, "switch"), "infrastructure device")
            self.unique(
                ((d.id, (*loc, "devices", k, "id")) for k, d in enumerate(spec.devices)), "device"
            )
            nloc: Loc = (*loc, "number" if spec.number is not None else "numbers")
            overlaps: dict[int, list[int]] = {}  # line of the earlier entry -> numbers
            for n in spec.number_list():
                if n in numbers:
                    overlaps.setdefault(self.doc.position(numbers[n])[0], []).append(n)
            for line, taken in overlaps.items():
                self.err(
                    nloc,
                    f"{_numbers_text(taken)} {'is' if len(taken) == 1 else 'are'} "
                    f"already defined at line {line}",
                )
            for n in spec.number_list():
                if n in numbers:
                    continue
                numbers[n] = nloc
                team = agency_team.get(spec.agency, "")
                clabel = counter_label(n)
                dev_ids: list[str] = []
                for k, device in enumerate(spec.devices):
                    dloc = (*loc, "devices", k)
                    address = self.template(
                        device.address, n, (*dloc, "address"), ranged=spec.numbers is not None
                    )
                    if address is None:
                        continue
                    eid = f"{site.id}/device/gerai-{clabel}-{device.id}"
                    labels = _labels(
                        site=site.id,
                        team=team,
                        kind="device",
                        entity=eid,
                        agency=spec.agency,
                        counter=clabel,
                        device=device.id,
                    )
                    parents = (f"{site.id}/infra/{spec.switch}",) if spec.switch else ()
                    self.entities[eid] = Entity(
                        id=eid,
                        kind="device",
                        name=device.name or device.id,
                        site=site.id,
                        team=team,
                        labels=labels,
                        depends_on=parents,
                    )
                    dev_ids.append(eid)
                    self.checks(
                        site,
                        device.checks,
                        address,
                        eid,
                        labels,
                        (*dloc, "checks"),
                        template_n=n,
                        ranged=spec.numbers is not None,
                    )
                self.counters.append(
                    Counter(
                        site=site.id,
                        number=n,
                        name=spec.name or f"Gerai {n}",
                        agency=spec.agency,
                        team=team,
                        devices=tuple(dev_ids),
                        applications=tuple(apps_of.get(spec.agency, ())),
                    )
                )
        self.maintenance(site, at, teams, agencies, links, set(numbers))

    def cycles(self, site: Site, at: Loc) -> None:
        parent = {d.id: d.parent for d in site.infrastructure}
        for i, dev in enumerate(site.infrastructure):
            seen = {dev.id}
            cur = parent.get(dev.id)
            while cur is not None and cur in parent:
                if cur in seen:
                    if cur == dev.id and dev.parent != dev.id:
                        self.err(
                            (*at, "infrastructure", i, "parent"),
                            f"parent chain of {dev.id!r} forms a cycle",
                        )
                    break
                seen.add(cur)
                cur = parent[cur]

    def maintenance(
        self,
        site: Site,
        at: Loc,
        teams: set[str],
        agencies: set[str],
        links: set[str],
        numbers: set[int],
    ) -> None:
        targets = {t.id for t in self.targets}
        for i, win in enumerate(site.maintenance):
            loc = (*at, "maintenance", i, "scope")
            sc = win.scope
            self.ref(sc.team, teams, (*loc, "team"), "team")
            self.ref(sc.agency, agencies, (*loc, "agency"), "agency")
            self.ref(sc.link, links, (*loc, "link"), "link")
            if sc.counter is not None and sc.counter not in numbers:
                self.err((*loc, "counter"), f"unknown counter {sc.counter}")
            if sc.entity is not None and sc.entity not in self.entities:
                self.err((*loc, "entity"), f"unknown entity {sc.entity!r}")
            if sc.target is not None and sc.target not in targets:
                self.err((*loc, "target"), f"unknown target {sc.target!r}")

    def _written(self, loc: Loc) -> bool:
        """Whether loc names a value spelled out in the file."""
        cur: Any = self.doc.data
        for part in loc:
            if isinstance(cur, dict) and part in cur:
                cur = cur[part]
            elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
                cur = cur[part]
            else:
                return False
        return True

    def url_template(self, url: str, n: int | None, loc: Loc, *, ranged: bool) -> str | None:
        """The URL with {n}/{n+K} filled in for counter n, checked again once filled."""
        if n is None:
            if _TEMPLATE.search(url):
                self.err(loc, f"{{n}} in {url!r}: counter numbers are only for counter devices")
                return None
            return url
        value = _TEMPLATE.sub(lambda m: str(n + int(m.group(1) or 0)), url)
        try:
            check_url(value)
        except ValueError as exc:
            self.err(loc, f"{exc} (counter {n})" if ranged and value != url else str(exc))
            return None
        return value

    def template(self, address: str, n: int, loc: Loc, *, ranged: bool = False) -> str | None:
        def sub(m: re.Match[str]) -> str:
            return str(n + int(m.group(1) or 0))

        value = _TEMPLATE.sub(sub, address)
        if "{" in value or "}" in value:
            self.err(loc, f"invalid address template {address!r}: use {{n}} or {{n+K}}")
            return None
        try:
            check_host(value)
        except ValueError as exc:
            # in a range the same template gives one address per counter: say which
            self.err(loc, f"{exc} (counter {n})" if ranged and value != address else str(exc))
            return None
        return value

    # targets ----------------------------------------------------------------------------
    def settings(self, kind: str, given: dict[str, Any], loc: Loc, extra: dict[str, Any]) -> Any:
        model = SETTINGS[kind]
        merged = {**extra, **given}
        headers = merged.get("headers")
        if isinstance(headers, dict):
            for name in headers:
                if str(name).lower() in _SECRET_HEADERS:
                    self.err(
                        (*loc, "settings", "headers", name),
                        f"header {name!r} carries a secret: use bearer_token or basic_auth "
                        "with {env: VARIABLE} or {file: /path/to/secret}",
                    )
                    return None
        try:
            return model.model_validate(merged)
        except ValidationError as exc:
            from monitor.inventory.load import validation_errors

            base = (*loc, "settings")
            try:
                self.errors.extend(validation_errors(self.doc, exc, model, base))
            except (KeyError, IndexError, TypeError):
                for e in exc.errors(include_url=False):
                    self.err(base, str(e["msg"]))
            return None

    def add(
        self,
        *,
        site: Site,
        eid: str,
        name: str,
        probe: ProbeKind,
        address: str,
        interval: float | None,
        timeout: float | None,
        settings: Any,
        labels: dict[str, str],
        loc: Loc,
        names: dict[str, Loc],
    ) -> None:
        if settings is None:
            return
        if not ID_RE.match(name.replace(".", "-").replace(":", "-")):
            self.err(loc, f"invalid check name {name!r}")
            return
        if name in names:
            line, _ = self.doc.position(names[name])
            self.err(
                loc,
                f"duplicate check {name!r} (first defined at line {line}): "
                "give the checks distinct names",
            )
            return
        names[name] = loc
        d = self.inv.defaults
        ival = interval if interval is not None else d.interval
        tout = timeout if timeout is not None else d.timeout
        if tout >= ival:
            # point at the value written here (timeout first), else at the entry
            field = "timeout" if timeout is not None else "interval" if interval else None
            self.err(
                (*loc, field) if field and self._written((*loc, field)) else loc,
                f"timeout ({tout:g}s) must be less than interval ({ival:g}s)",
            )
            return
        if isinstance(settings, IcmpSettings) and (settings.count - 1) * settings.spacing >= tout:
            self.err(
                (*loc, "settings") if self._written((*loc, "settings")) else loc,
                f"{settings.count} echoes {settings.spacing:g}s apart do not fit in "
                f"the timeout ({tout:g}s)",
            )
            return
        self.targets.append(
            Target(
                id=f"{eid}/{name}",
                probe=probe,
                address=address,
                entity=eid,
                interval=ival,
                timeout=tout,
                settings=settings,
                labels=labels,
            )
        )

    def checks(
        self,
        site: Site,
        checks: list[CheckSpec],
        address: str,
        eid: str,
        labels: dict[str, str],
        at: Loc,
        template_n: int | None = None,
        ranged: bool = False,
    ) -> None:
        names: dict[str, Loc] = {}
        for i, check in enumerate(checks):
            loc = (*at, i)
            host = address
            if check.address is not None:
                t = self.template(check.address, template_n or 0, (*loc, "address"), ranged=ranged)
                if t is None:
                    continue
                host = t
            kind = check.probe
            if kind == "tcp":
                if check.port is None:
                    self.err(loc, "a tcp check needs a port (tcp:PORT)")
                    continue
                target_addr = f"[{host}]:{check.port}" if ":" in host else f"{host}:{check.port}"
                default_name = f"tcp-{check.port}"
            elif kind == "http":
                url = check.url
                if url is None:
                    self.err(loc, "an http check needs a url")
                    continue
                checked = self.url_template(url, template_n, (*loc, "url"), ranged=ranged)
                if checked is None:
                    continue
                target_addr = checked
                default_name = "http"
            else:
                target_addr = host
                default_name = kind
            settings = self.settings(kind, check.settings, loc, {})
            self.add(
                site=site,
                eid=eid,
                name=check.name or default_name,
                probe=kind,
                address=target_addr,
                interval=check.interval,
                timeout=check.timeout,
                settings=settings,
                labels=labels,
                loc=loc,
                names=names,
            )

    def anchor(
        self,
        site: Site,
        source: str | None,
        anchor: Anchor,
        eid: str,
        labels: dict[str, str],
        loc: Loc,
        names: dict[str, Loc],
    ) -> None:
        kind = anchor.probe
        address = anchor.address
        try:
            if kind == "http":
                check_url(address)
            else:
                check_host(address)
        except ValueError as exc:
            self.err((*loc, "address"), str(exc))
            return
        if kind == "tcp":
            if anchor.port is None:
                self.err(loc, "a tcp anchor needs a port")
                return
            address = f"[{address}]:{anchor.port}" if ":" in address else f"{address}:{anchor.port}"
        extra: dict[str, Any] = {"source": source} if source else {}
        settings = self.settings(kind, anchor.settings, loc, extra)
        name = anchor.name or f"{kind}-{anchor.address}".replace("://", "-").replace("/", "-")
        self.add(
            site=site,
            eid=eid,
            name=name.rstrip("-"),
            probe=kind,
            address=address,
            interval=anchor.interval,
            timeout=anchor.timeout,
            settings=settings,
            labels=labels,
            loc=loc,
            names=names,
        )

    def application(self, site: Site, app: Any, eid: str, labels: dict[str, str], loc: Loc) -> None:
        source = None
        if len(app.links) == 1:
            link = next((x for x in site.links if x.id == app.links[0]), None)
            source = link.source if link else None
        extra: dict[str, Any] = {"source": source} if source else {}
        if app.url is not None:
            extra.update(cert_warning_days=app.cert_warning_days)
            if app.expect_status:
                extra["valid_status_codes"] = app.expect_status
            if app.body_match:
                extra["body_must_match"] = app.body_match
            if app.latency_budget is not None:
                extra["latency_budget"] = app.latency_budget
            kind: ProbeKind = "http"
            address = app.url
        else:
            kind = "tcp"
            address = app.address
        settings = self.settings(kind, app.settings, loc, extra)
        self.add(
            site=site,
            eid=eid,
            name=kind,
            probe=kind,
            address=address,
            interval=app.interval,
            timeout=app.timeout,
            settings=settings,
            labels=labels,
            loc=loc,
            names={},
        )


def expand(inv: Inventory, doc: Document) -> Plan:
    """Cross-check the inventory and expand it into a Plan; raise ConfigError on problems."""
    ex = _Expander(inv, doc)
    ex.run()
    if ex.errors:
        raise ConfigError(ex.errors)
    return Plan(
        targets=tuple(ex.targets),
        entities=dict(ex.entities),
        counters=tuple(sorted(ex.counters, key=lambda c: (c.site, c.number))),
        sites=tuple(site_info(s) for s in inv.sites),
        down_after=inv.defaults.down_after,
        up_after=inv.defaults.up_after,
        runbook_url=runbook_base(inv),
    )


def runbook_base(inv: Inventory) -> str:
    """Where the "Panduan" links of messages point: the inventory's ``runbook_url``, else the
    monitor's own ``/runbook`` page under ``public_url``; "" when neither is known."""
    if inv.runbook_url:
        return str(inv.runbook_url)
    if inv.public_url:
        return urljoin(str(inv.public_url), "runbook")
    return ""


def site_info(site: Site) -> SiteInfo:
    """The runtime directory of one site (names, zone, hours, maintenance, teams, channels)."""
    return SiteInfo(
        id=site.id,
        name=site.name,
        timezone=site.timezone,
        service_hours=site.service_hours,
        closed_days=site.closed_days,
        maintenance=tuple(site.maintenance),
        network_team=site.network_team,
        manager_team=site.manager_team,
        teams=tuple(TeamInfo(t.id, t.name, tuple(t.channels)) for t in site.teams),
        agencies=tuple(
            AgencyInfo(a.id, a.name, a.team, a.short_name, a.target) for a in site.agencies
        ),
        links=tuple(LinkInfo(x.id, x.name, x.provider, x.sla, x.kind) for x in site.links),
        region=site.region or "",
        regency=site.regency or "",
    )


class Loaded(NamedTuple):
    """An inventory file, validated: its model (for config commands) and its Plan."""

    inventory: Inventory
    plan: Plan


def load_config(path: str | Path, text: str | None = None) -> Loaded:
    """Load, validate and expand an inventory file (raises ConfigError)."""
    inv, doc = load_inventory(path, text)
    return Loaded(inv, expand(inv, doc))


def load_plan(path: str | Path, text: str | None = None) -> Plan:
    """Load, validate and expand an inventory file into the runtime Plan (raises ConfigError)."""
    return load_config(path, text).plan


def load_plans(paths: Sequence[str | Path]) -> list[Plan]:
    """Load several inventory files (a centre keeps one per site) into one Plan each; a site
    id must be unique across them. Raises ConfigError listing every problem of every file."""
    plans: list[Plan] = []
    errors: list[ErrorItem] = []
    first: dict[str, str] = {}  # site id -> "FILE:LINE" where it was first defined
    for path in paths:
        try:
            inv, doc = load_inventory(path)
            plan = expand(inv, doc)
        except ConfigError as exc:
            errors += exc.errors
            continue
        for i, site in enumerate(inv.sites):
            loc: Loc = ("sites", i, "id")
            line, _ = doc.position(loc)
            if site.id in first:
                message = f"duplicate site id {site.id!r} (first defined at {first[site.id]})"
                errors.append(doc.error(loc, message))
            else:
                first[site.id] = f"{doc.file}:{line}"
        plans.append(plan)
    if errors:
        raise ConfigError(errors)
    return plans


Loader = Callable[[str | Path], Plan]
