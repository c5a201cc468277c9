"""The notifier's routing (channels per team, display names, site time zones) and how it is
built from the expanded plan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from monitor.notify.channels import Channel
from monitor.notify.messages import Names

if TYPE_CHECKING:
    from monitor.plan import Plan

TeamKey = tuple[str, str]  # (site, team): team ids are per site in the inventory


@dataclass(frozen=True)
class Routing:
    """Who gets what: channels per (site, team), display names, site time zones."""

    channels: Mapping[TeamKey, Sequence[Channel]] = field(default_factory=dict)
    names: Names = field(default_factory=dict)
    timezones: Mapping[str, str] = field(default_factory=dict)
    network_teams: Mapping[str, str] = field(default_factory=dict)  # site -> uplinks' owner
    runbook_url: str = ""  # the inventory's runbook: replaces the rules' generic link


def routing_from_plan(plan: Plan) -> Routing:
    """Channels per (site, team), names of sites/teams/agencies/links/entities, site zones.

    The channels were validated when the inventory was loaded, so this cannot fail.
    """
    channels: dict[TeamKey, list[Channel]] = {}
    names: dict[tuple[str, str], str] = {}
    timezones: dict[str, str] = {}
    network_teams: dict[str, str] = {}
    for site in plan.sites:
        timezones[site.id] = site.timezone
        network_teams[site.id] = site.network_team
        names[("site", site.id)] = site.name
        for team in site.teams:
            names.setdefault(("team", team.id), team.name)
            channels[(site.id, team.id)] = list(team.channels)
        for agency in site.agencies:
            names.setdefault(("agency", agency.id), agency.short_name or agency.name)
        for link in site.links:
            names.setdefault(("link", link.id), link.name)
    for entity in plan.entities.values():
        names[("entity", entity.id)] = entity.name
    return Routing(
        channels=channels,
        names=names,
        timezones=timezones,
        network_teams=network_teams,
        runbook_url=plan.runbook_url,
    )
