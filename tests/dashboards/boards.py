"""Read the committed dashboards: panels, queries, variables, and Grafana-style substitution."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = ROOT / "dashboards"
DASHBOARD_FILES = sorted(DASHBOARD_DIR.glob("*.json"))
DS_VARIABLE = "${datasource}"
NO_QUERY_TYPES = frozenset({"row", "text"})

# $name, ${name} or ${name:format}; [[name]] is Grafana's deprecated form.
VAR_RE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")
LABEL_VALUES_RE = re.compile(r"^\s*label_values\(\s*(?:(.*\S)\s*,\s*)?(\w+)\s*\)\s*$", re.S)

# Grafana's built-in variables, as Grafana would set them for a 1 hour range on a panel
# about 1,000 pixels wide, with the test Prometheus scraping every second.
BUILTINS: Mapping[str, str] = {
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
    "__interval": "1s",
    "__interval_ms": "1000",
    "__rate_interval": "10s",
}


def load(path: Path) -> dict[str, Any]:
    """One dashboard's JSON model."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


@dataclass(frozen=True)
class Query:
    """One panel target, with where it lives (for failure messages)."""

    dashboard: str  # title
    uid: str
    panel: str  # title
    ref_id: str
    expr: str
    instant: bool

    def where(self) -> str:
        """'<dashboard> / <panel> / <refId>' for messages."""
        return f"{self.dashboard} / {self.panel} / {self.ref_id}"


def queries(dashboard: Mapping[str, Any]) -> list[Query]:
    """Every Prometheus query of every panel."""
    out = []
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            out.append(
                Query(
                    dashboard=dashboard["title"],
                    uid=dashboard["uid"],
                    panel=panel.get("title", ""),
                    ref_id=target.get("refId", ""),
                    expr=target.get("expr", ""),
                    instant=bool(target.get("instant")),
                )
            )
    return out


def variables(dashboard: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The templating variables, in dashboard order."""
    return list(dashboard.get("templating", {}).get("list", []))


def parse_label_values(query: str) -> tuple[str | None, str]:
    """Split ``label_values(selector, label)`` into (selector or None, label)."""
    m = LABEL_VALUES_RE.match(query)
    if not m:
        raise ValueError(f"not a label_values() query: {query!r}")
    return m.group(1), m.group(2)


def used_variables(text: str) -> set[str]:
    """Names of the template variables a query refers to."""
    return {next(g for g in m.groups() if g) for m in VAR_RE.finditer(text)}


def substitute(text: str, values: Mapping[str, str]) -> str:
    """Replace known variables like Grafana does; leave unknown ones (e.g. "$1") untouched."""

    def repl(m: re.Match[str]) -> str:
        name = next(g for g in m.groups() if g)
        return values.get(name, m.group(0))

    return VAR_RE.sub(repl, text)
