"""Structure of the committed Grafana dashboards and provisioning files (no server needed)."""

from __future__ import annotations

import io
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from dashboards import build
from tests.dashboards import boards
from tests.dashboards.boards import DASHBOARD_FILES, DS_VARIABLE, NO_QUERY_TYPES, ROOT

EXPECTED = {
    "mpp-overview",
    "mpp-links",
    "mpp-applications",
    "mpp-counters",
    "mpp-uptime",
    "mpp-monitor-health",
}


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


@pytest.fixture(params=DASHBOARD_FILES, ids=_ids(DASHBOARD_FILES))
def dashboard(request: pytest.FixtureRequest) -> dict[str, Any]:
    return boards.load(request.param)


def test_the_six_dashboards_exist_with_unique_uids() -> None:
    uids = [boards.load(p)["uid"] for p in DASHBOARD_FILES]
    assert len(uids) == len(set(uids))
    assert set(uids) >= EXPECTED, f"missing: {EXPECTED - set(uids)}"
    for path in DASHBOARD_FILES:
        assert boards.load(path)["uid"] == path.stem, f"{path.name}: file name is not its uid"


def test_generated_files_match_the_generator() -> None:
    rendered = build.render()
    for rel, text in rendered.items():
        path = ROOT / rel
        assert path.exists(), f"{rel} not committed: run python tools/generate.py"
        assert path.read_text(encoding="utf-8") == text, f"{rel} drifted: run tools/generate.py"
    # Every committed dashboard comes from the generator (no hand-made leftovers).
    generated = {ROOT / rel for rel in rendered}
    stray = [p.name for p in DASHBOARD_FILES if p not in generated]
    assert not stray, f"dashboards not produced by build.py: {stray}"


def test_titles_present(dashboard: dict[str, Any]) -> None:
    assert dashboard.get("title", "").strip()
    assert dashboard.get("description", "").strip()
    titles = [p.get("title", "") for p in boards.panels(dashboard)]
    assert all(t.strip() for t in titles), f"{dashboard['title']}: a panel has no title"
    dupes = {t for t in titles if titles.count(t) > 1}
    assert not dupes, f"{dashboard['title']}: duplicate panel titles {dupes}"


def test_panel_ids_unique(dashboard: dict[str, Any]) -> None:
    ids = [p.get("id") for p in boards.panels(dashboard)]
    assert all(isinstance(i, int) and i > 0 for i in ids), f"{dashboard['title']}: ids {ids}"
    assert len(ids) == len(set(ids)), f"{dashboard['title']}: duplicate panel ids {ids}"


def test_every_target_has_a_unique_ref_id(dashboard: dict[str, Any]) -> None:
    for panel in boards.panels(dashboard):
        refs = [t.get("refId") for t in panel.get("targets", [])]
        where = f"{dashboard['title']} / {panel['title']}"
        assert all(isinstance(r, str) and r for r in refs), f"{where}: target without refId"
        assert len(refs) == len(set(refs)), f"{where}: duplicate refIds {refs}"


def test_query_panels_have_queries_and_use_the_datasource_variable(
    dashboard: dict[str, Any],
) -> None:
    for panel in boards.panels(dashboard):
        where = f"{dashboard['title']} / {panel['title']}"
        if panel["type"] in NO_QUERY_TYPES:
            assert not panel.get("targets"), f"{where}: a {panel['type']} panel has queries"
            continue
        assert panel.get("datasource") == {"type": "prometheus", "uid": DS_VARIABLE}, where
        assert panel.get("targets"), f"{where}: no queries"
        for target in panel["targets"]:
            assert target.get("datasource", panel["datasource"]) == panel["datasource"], where
            assert target.get("expr", "").strip(), f"{where} / {target['refId']}: empty expr"


def test_no_hard_coded_datasource_anywhere(dashboard: dict[str, Any]) -> None:
    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            ds = node.get("datasource")
            if ds is not None and node.get("type") != "datasource":
                uid = ds.get("uid") if isinstance(ds, dict) else ds
                assert uid == DS_VARIABLE, f"{dashboard['title']}: {path}.datasource = {ds!r}"
            for key, value in node.items():
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")

    walk(dashboard, "$")


def test_datasource_variable_and_query_variables(dashboard: dict[str, Any]) -> None:
    variables = boards.variables(dashboard)
    by_name = {v["name"]: v for v in variables}
    ds = by_name.get("datasource")
    assert ds is not None, f"{dashboard['title']}: no datasource variable"
    assert ds["type"] == "datasource" and ds["query"] == "prometheus"
    assert "site" in by_name, f"{dashboard['title']}: no site variable"
    for var in variables:
        if var["type"] == "query":
            boards.parse_label_values(var["query"])  # raises if not label_values(...)


def test_every_variable_used_is_defined(dashboard: dict[str, Any]) -> None:
    defined = {v["name"] for v in boards.variables(dashboard)} | set(boards.BUILTINS)
    texts = [(q.where(), q.expr) for q in boards.queries(dashboard)]
    texts += [
        (f"variable {v['name']}", str(v.get("query", ""))) for v in boards.variables(dashboard)
    ]
    texts += [(f"panel title {p['title']}", p["title"]) for p in boards.panels(dashboard)]
    texts += [
        (f"repeat of {p['title']}", "$" + p["repeat"])
        for p in boards.panels(dashboard)
        if p.get("repeat")
    ]
    for where, text in texts:
        unknown = {n for n in boards.used_variables(text) if not n.isdigit()} - defined
        assert not unknown, f"{dashboard['title']}: {where} uses undefined {unknown}"


def test_every_query_panel_has_a_unit(dashboard: dict[str, Any]) -> None:
    for panel in boards.panels(dashboard):
        if panel["type"] in NO_QUERY_TYPES:
            continue
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
        assert unit, f"{dashboard['title']} / {panel['title']}: no unit"


def test_grid_positions_present_and_not_overlapping(dashboard: dict[str, Any]) -> None:
    boxes = []
    for panel in dashboard["panels"]:  # top level: nested panels of collapsed rows move
        where = f"{dashboard['title']} / {panel['title']}"
        pos = panel.get("gridPos")
        assert pos, f"{where}: no gridPos"
        h, w, x, y = (pos.get(k) for k in ("h", "w", "x", "y"))
        assert all(isinstance(v, int) for v in (h, w, x, y)), f"{where}: {pos}"
        assert h > 0 and w > 0 and x >= 0 and y >= 0 and x + w <= 24, f"{where}: {pos}"
        boxes.append((where, x, y, x + w, y + h))
    for (a, ax0, ay0, ax1, ay1), (b, bx0, by0, bx1, by1) in combinations(boxes, 2):
        overlap = ax0 < bx1 and bx0 < ax1 and ay0 < by1 and by0 < ay1
        assert not overlap, f"panels overlap: {a} and {b}"


def test_possibly_empty_marks_name_real_queries() -> None:
    marks = build.possibly_empty()
    assert marks, "at least the alerts-firing table is marked possibly empty"
    known = {
        (q.uid, q.panel, q.ref_id) for p in DASHBOARD_FILES for q in boards.queries(boards.load(p))
    }
    assert marks <= known, f"stale possibly-empty marks: {marks - known}"
    alerts = [m for m in marks if m[0] == "mpp-overview"]
    assert alerts, "the overview's alerts-firing query must be marked possibly empty"


def _yaml(rel: str) -> Any:
    return YAML(typ="safe").load(io.StringIO((ROOT / rel).read_text(encoding="utf-8")))


def test_provisioning_datasource_has_a_fixed_uid_and_local_url() -> None:
    data = _yaml("dashboards/provisioning/datasources/prometheus.yml")
    assert data["apiVersion"] == 1
    [ds] = data["datasources"]
    assert ds["type"] == "prometheus"
    assert ds["uid"] == "mpp-prometheus"
    assert ds["url"] == "http://127.0.0.1:9090"
    assert ds["access"] == "proxy"


def test_provisioning_provider_points_at_the_dashboards_folder() -> None:
    data = _yaml("dashboards/provisioning/dashboards/mpp.yml")
    assert data["apiVersion"] == 1
    [provider] = data["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards/mpp"
    assert provider["folder"]
    docs = (ROOT / "docs/grafana.md").read_text(encoding="utf-8")
    assert provider["options"]["path"] in docs, "docs/grafana.md must name the dashboards path"
