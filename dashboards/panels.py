"""The panels library of the dashboards: panel builders, queries, thresholds, variables, links.

Every dashboard module (overview.py, links.py, ...) builds its ``Board`` from these.
The SDK is a development-time tool pinned in the test extra (``grafana-foundation-sdk==0.0.21``);
it leaves panel ``id`` and target ``refId`` unset, so ``Board`` assigns both.

Conventions (checked by tests/dashboards/):

* every panel and every target uses the data source variable ``${datasource}``;
* a query that may legitimately return nothing (e.g. alerts firing) is built with
  ``Q(..., may_be_empty=True)``; ``build.possibly_empty()`` lists those as (dashboard uid, panel
  title, refId), and the query test accepts an empty answer only for them. Its panel
  description says, in Indonesian, what an empty panel means;
* panel titles are unique within a dashboard (failures are reported by title).

Titles and descriptions are in Bahasa Indonesia, for IT staff at the MPP.
"""

from __future__ import annotations

import json
import warnings
from typing import Any, NamedTuple, TypedDict, TypeVar, Unpack, cast

from dashboards.promql import SUBQUERY, SUBQUERY_POINTS

with warnings.catch_warnings():
    # The SDK deprecates the v1 dashboard model in favour of v2 at import; Grafana's file
    # provisioning reads v1 JSON on every version, so the dashboards stay on v1.
    warnings.filterwarnings(
        "ignore", "Prefer using dashboardv2", DeprecationWarning, "grafana_foundation_sdk"
    )
    from grafana_foundation_sdk.builders import common as cb
    from grafana_foundation_sdk.builders import dashboard as db
    from grafana_foundation_sdk.builders import prometheus as prom
    from grafana_foundation_sdk.builders import stat, statetimeline, table, text, timeseries
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models import common as cm
    from grafana_foundation_sdk.models import dashboard as dm
    from grafana_foundation_sdk.models import prometheus as pm
    from grafana_foundation_sdk.models import text as tm

DATASOURCE_UID = "mpp-prometheus"  # provisioning only: dashboards use ${datasource}
DATASOURCE_NAME = "Prometheus MPP"
DASHBOARD_PATH = "/var/lib/grafana/dashboards/mpp"
DS = cm.DataSourceRef(type_val="prometheus", uid="${datasource}")
TZ = "Asia/Makassar"  # WITA, the site's clock
TAGS = ["mpp", "mpp-monitor"]


# Said by every panel fed only by ICMP anchors of the uplinks: such a panel is empty when no
# uplink has an ICMP anchor (e.g. HTTP/TCP anchors only, like the demo's simulated MPP).
NO_ICMP_ANCHOR = (
    " Kosong bila tidak ada uplink yang punya anchor ICMP (mis. hanya anchor HTTP/TCP)."
)

# ---------------------------------------------------------------- value mappings, colours


def value_map(pairs: list[tuple[str, str, str]]) -> list[dm.ValueMapping]:
    """Value -> (text, colour) mappings."""
    opts = {v: dm.ValueMappingResult(text=t, color=c, index=i) for i, (v, t, c) in enumerate(pairs)}
    return [dm.ValueMap(options=opts)]


STATUS_MAP = value_map(
    [
        ("1", "Normal", "green"),
        ("2", "Gangguan", "red"),
        ("3", "Tak terjangkau", "orange"),
        ("4", "Pemeliharaan", "blue"),
        ("5", "Tidak diketahui", "text"),
    ]
)
LINK_MAP = value_map([("1", "Normal", "green"), ("2", "Menurun", "yellow"), ("3", "Putus", "red")])
SERVE_MAP = value_map([("1", "Melayani", "green"), ("0", "Tidak bisa melayani", "red")])
INTERNET_MAP = value_map([("1", "Tersambung", "green"), ("0", "Putus", "red")])
UP_MAP = value_map([("1", "Naik", "green"), ("0", "Turun", "red")])
RELOAD_MAP = value_map([("1", "Berhasil", "green"), ("0", "Gagal", "red")])
FAULT_TEXT_MAP = value_map(
    [
        ("down", "Gangguan (kesalahan sendiri)", "red"),
        ("unreachable", "Tak terjangkau (induknya gagal)", "orange"),
    ]
)


def steps(*pairs: tuple[float | None, str]) -> db.ThresholdsConfig:
    """Absolute thresholds; the first value is None (the base colour)."""
    return (
        db.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=v, color=c) for v, c in pairs])
    )


STATUS_STEPS = steps((None, "green"), (2, "red"), (3, "orange"), (4, "blue"), (5, "text"))
LINK_STEPS = steps((None, "green"), (2, "yellow"), (3, "red"))  # LINK_STATE_CODES
GOOD_IS_1 = steps((None, "red"), (1, "green"))  # 1 is good (up, can serve), else red
AVAILABILITY = steps((None, "red"), (0.95, "orange"), (0.99, "yellow"), (0.999, "green"))


def organize(exclude: list[str], rename: dict[str, str]) -> dm.DataTransformerConfig:
    """The 'organize' transformation: hide columns and give the rest Indonesian names."""
    return dm.DataTransformerConfig(
        id_val="organize",
        options={
            "excludeByName": {k: True for k in exclude},
            "renameByName": rename,
            "indexByName": {k: i for i, k in enumerate(rename)},
        },
    )


def prop(id_val: str, value: object) -> dm.DynamicConfigValue:
    """One override property."""
    return dm.DynamicConfigValue(id_val=id_val, value=value)


# ---------------------------------------------------------------- queries and the board


class Q(NamedTuple):
    """One Prometheus query of a panel."""

    expr: str
    legend: str = "__auto"
    instant: bool = False
    table: bool = False
    may_be_empty: bool = False

    def builder(self, ref_id: str) -> prom.Dataquery:
        """The SDK query with refId and the data source variable set."""
        q = (
            prom.Dataquery()
            .expr(self.expr)
            .ref_id(ref_id)
            .datasource(DS)
            .legend_format(self.legend)
            .editor_mode(pm.QueryEditorMode.CODE)
        )
        q = q.instant() if self.instant or self.table else q.range()
        if self.table:
            q = q.format(pm.PromQueryFormat.TABLE)
        return q


def instant(expr: str, legend: str = "__auto") -> Q:
    """An instant query (the latest value): what stat panels show."""
    return Q(expr, legend, instant=True)


class Board:
    """A dashboard under construction: assigns panel ids, refIds and grid positions."""

    def __init__(
        self,
        uid: str,
        title: str,
        description: str,
        variables: list[str],
        *,
        time_from: str = "now-6h",
        refresh: str = "30s",
        alert_annotations: bool = True,
    ) -> None:
        self.uid = uid
        self.title = title
        self.possibly_empty: set[tuple[str, str, str]] = set()
        self._next_id = 1
        self._x = 0
        self._y = 0
        self._line_h = 0
        self._titles: set[str] = set()
        self._dash = (
            db.Dashboard(title)
            .uid(uid)
            .description(description)
            .tags(TAGS)
            .timezone(TZ)
            .time(time_from, "now")
            .refresh(refresh)
            .tooltip(dm.DashboardCursorSync.CROSSHAIR)
            .editable()
            .link(
                db.DashboardLink("Dasbor MPP")
                .type(dm.DashboardLinkType.DASHBOARDS)
                .tags(["mpp"])
                .as_dropdown(True)
                .include_vars(True)
                .keep_time(True)
            )
        )
        self._dash = self._dash.with_variable(
            db.DatasourceVariable("datasource")
            .label("Sumber data")
            .type("prometheus")
            .description("Prometheus yang mengumpulkan metrik mpp-monitor.")
        )
        for name in variables:
            self._dash = self._dash.with_variable(VARIABLES[name]())
        if alert_annotations:
            self._dash = self._dash.annotation(
                db.AnnotationQuery()
                .name("Alert")
                .datasource(DS)
                .enable(True)
                .icon_color("red")
                .expr('ALERTS{alertstate="firing", site=~"$site|"}')
                .title_format("{{alertname}}")
                .text_format("{{team}} · {{entity}}")
                .step("60s")
            )

    def row(self, title: str) -> None:
        """Start a new (expanded) row of panels."""
        self._newline()
        row = db.Row(title).id(self._take_id(title)).grid_pos(dm.GridPos(h=1, w=24, x=0, y=self._y))
        self._dash = self._dash.with_row(row)
        self._y += 1

    def add(self, panel: Any, w: int, h: int, queries: list[Q] | None = None) -> None:
        """Place a panel (left to right, wrapping at 24 columns) with its queries."""
        if self._x + w > 24:
            self._newline()
        built_title = panel.build().title or ""
        panel = panel.id(self._take_id(built_title)).grid_pos(
            dm.GridPos(h=h, w=w, x=self._x, y=self._y)
        )
        if queries:
            panel = panel.datasource(DS)
            if any(SUBQUERY in q.expr for q in queries):
                # $__interval is the sub-query step: range / maxDataPoints, so many points
                # give a fine step (30 days -> about 5 minutes).
                panel = panel.max_data_points(SUBQUERY_POINTS)
            for i, q in enumerate(queries):
                ref = chr(ord("A") + i)
                panel = panel.with_target(q.builder(ref))
                if q.may_be_empty:
                    self.possibly_empty.add((self.uid, built_title, ref))
        self._dash = self._dash.with_panel(panel)
        self._x += w
        self._line_h = max(self._line_h, h)

    def json(self) -> dict[str, Any]:
        """The dashboard model as plain JSON data."""
        data: dict[str, Any] = json.loads(json.dumps(self._dash.build(), cls=JSONEncoder))
        data.setdefault("annotations", {}).setdefault("list", [])
        # The SDK's default placement hides links and the annotation toggle in a menu.
        for item in [*data["annotations"]["list"], *data.get("links", [])]:
            item.pop("placement", None)
        data["id"] = None  # let Grafana assign its database id
        return data

    def _newline(self) -> None:
        self._y += self._line_h
        self._x = 0
        self._line_h = 0

    def _take_id(self, title: str) -> int:
        if title in self._titles:
            raise ValueError(f"{self.uid}: duplicate panel title {title!r}")
        self._titles.add(title)
        self._next_id += 1
        return self._next_id - 1


# ---------------------------------------------------------------- variables


def _query_var(name: str, label: str, query: str, desc: str, sort: dm.VariableSort) -> Any:
    return (
        db.QueryVariable(name)
        .label(label)
        .description(desc)
        .datasource(DS)
        .query(query)
        .definition(query)
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(sort)
        .multi(True)
        .include_all(True)
        .all_value(".*")
    )


ALPHA = dm.VariableSort.ALPHABETICAL_ASC
# Variables that only have values on a central store (labels the sites' external_labels add):
# on a site's own Prometheus they are empty and stay at "All", which matches every series.
CENTRAL_ONLY = frozenset({"region"})
VARIABLES: dict[str, Any] = {
    "region": lambda: _query_var(
        "region",
        "Wilayah",
        "label_values(mpp_entity_status, region)",
        "Wilayah (provinsi) gedung MPP: hanya di penyimpanan pusat, dari external_labels situs.",
        ALPHA,
    ),
    "site": lambda: _query_var(
        "site",
        "Gedung",
        'label_values(mpp_entity_status{region=~"$region"}, site)',
        "Gedung MPP (site).",
        ALPHA,
    ),
    "agency": lambda: _query_var(
        "agency",
        "Instansi",
        'label_values(mpp_entity_status{site=~"$site", agency!=""}, agency)',
        "Instansi yang punya gerai atau aplikasi.",
        ALPHA,
    ),
    "app_agency": lambda: _query_var(
        "agency",
        "Instansi",
        'label_values(mpp_entity_status{site=~"$site", kind="application"}, agency)',
        "Instansi pemilik aplikasi.",
        ALPHA,
    ),
    "counter_agency": lambda: _query_var(
        "agency",
        "Instansi",
        'label_values(mpp_can_serve{site=~"$site"}, agency)',
        "Instansi pemilik gerai.",
        ALPHA,
    ),
    "team": lambda: _query_var(
        "team",
        "Tim",
        'label_values(mpp_entity_status{site=~"$site"}, team)',
        "Tim TI pemilik perangkat, uplink atau aplikasi.",
        ALPHA,
    ),
    "link": lambda: _query_var(
        "link",
        "Uplink",
        'label_values(mpp_link_state{site=~"$site"}, link)',
        "Uplink internet atau jalur khusus.",
        ALPHA,
    ),
    "counter": lambda: _query_var(
        "counter",
        "Gerai",
        'label_values(mpp_can_serve{site=~"$site", agency=~"$agency"}, counter)',
        "Nomor gerai.",
        dm.VariableSort.NUMERICAL_ASC,
    ),
    "job": lambda: _query_var(
        "job",
        "Job Prometheus",
        "label_values(mpp_build_info, job)",
        "Job Prometheus yang mengambil /metrics mpp-monitor.",
        ALPHA,
    ),
}


# ---------------------------------------------------------------- panel factories


P = TypeVar("P")  # a panel builder of the SDK


class FieldOptions(TypedDict, total=False):
    """Field options shared by the stat, state timeline and table panels."""

    mappings: list[dm.ValueMapping]
    thresholds: db.ThresholdsConfig  # default: one step in the panel kind's base colour
    decimals: int


def _fields(panel: P, title: str, desc: str, unit: str, base: str, **fields: Any) -> P:
    """Title, description, unit, thresholds (``base`` colour by default) and field options."""
    p: Any = panel.title(title).description(desc).unit(unit)
    p = p.thresholds(fields.get("thresholds") or steps((None, base)))
    if fields.get("mappings"):
        p = p.mappings(fields["mappings"])
    if fields.get("decimals") is not None:
        p = p.decimals(fields["decimals"])
    return cast(P, p)


def stat_panel(
    title: str,
    desc: str,
    unit: str,
    *,
    color_mode: cm.BigValueColorMode = cm.BigValueColorMode.BACKGROUND,
    text_mode: cm.BigValueTextMode = cm.BigValueTextMode.VALUE_AND_NAME,
    graph: bool = False,
    **fields: Unpack[FieldOptions],
) -> stat.Panel:
    """A stat panel: the last value of each series, coloured by its thresholds."""
    p = (
        stat.Panel()
        .color_mode(color_mode)
        .text_mode(text_mode)
        .graph_mode(cm.BigValueGraphMode.AREA if graph else cm.BigValueGraphMode.NONE)
        .justify_mode(cm.BigValueJustifyMode.AUTO)
        .orientation(cm.VizOrientation.AUTO)
        .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )
    return _fields(p, title, desc, unit, "green", **fields)


def status_stat(title: str, desc: str) -> stat.Panel:
    """A stat of status codes (``status_code``), named and coloured by STATUS_MAP."""
    return stat_panel(title, desc, "none", mappings=STATUS_MAP, thresholds=STATUS_STEPS)


def status_timeline(title: str, desc: str) -> statetimeline.Panel:
    """A state timeline of status codes (``status_code``), as ``status_stat`` colours them."""
    return timeline_panel(title, desc, mappings=STATUS_MAP, thresholds=STATUS_STEPS)


def yes_no_stat(title: str, desc: str, mappings: list[dm.ValueMapping]) -> stat.Panel:
    """A stat of 1 (good, in green) or 0 (red), each value named by ``mappings``."""
    return stat_panel(title, desc, "none", mappings=mappings, thresholds=GOOD_IS_1)


def plain_stat(title: str, desc: str, unit: str, text_mode: cm.BigValueTextMode) -> stat.Panel:
    """A stat shown as plain text (a name, a version, a time), without colour."""
    return stat_panel(title, desc, unit, text_mode=text_mode, color_mode=cm.BigValueColorMode.NONE)


def availability_stat(title: str, desc: str) -> stat.Panel:
    """A stat of availability ratios (percent, two decimals, AVAILABILITY colours)."""
    return stat_panel(title, desc, "percentunit", thresholds=AVAILABILITY, decimals=2)


def series_panel(
    title: str,
    desc: str,
    unit: str,
    *,
    stack: bool = False,
    bars: bool = False,
    min_val: float | None = None,
    max_val: float | None = None,
) -> timeseries.Panel:
    """A time series graph (lines; stacked areas or bars on request), legend below."""
    p = (
        timeseries.Panel()
        .title(title)
        .description(desc)
        .unit(unit)
        .line_width(1)
        .fill_opacity(40 if bars or stack else 10)
        .show_points(cm.VisibilityMode.NEVER)
        .legend(
            cb.VizLegendOptions()
            .display_mode(cm.LegendDisplayMode.LIST)
            .placement(cm.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
        .tooltip(
            cb.VizTooltipOptions().mode(cm.TooltipDisplayMode.MULTI).sort(cm.SortOrder.DESCENDING)
        )
    )
    if bars:
        p = p.draw_style(cm.GraphDrawStyle.BARS)
    if stack:
        p = p.stacking(cb.StackingConfig().mode(cm.StackingMode.NORMAL))
    if min_val is not None:
        p = p.min(min_val)
    return p if max_val is None else p.max(max_val)


def timeline_panel(
    title: str, desc: str, *, unit: str = "none", **fields: Unpack[FieldOptions]
) -> statetimeline.Panel:
    """A state timeline: one band per series, coloured by thresholds and value mappings."""
    p = (
        statetimeline.Panel()
        .show_value(cm.VisibilityMode.NEVER)
        .merge_values(True)
        .row_height(0.85)
        .fill_opacity(80)
        .line_width(0)
        .color_scheme(db.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS))
    )
    return _fields(p, title, desc, unit, "green", **fields)


def table_panel(
    title: str,
    desc: str,
    unit: str,
    transformations: list[dm.DataTransformerConfig],
    **fields: Unpack[FieldOptions],
) -> table.Panel:
    """A filterable table of instant results, its columns set by ``transformations``."""
    p = (
        table.Panel()
        .transformations(transformations)
        .cell_height(cm.TableCellHeight.SM)
        .filterable(True)
    )
    return _fields(p, title, desc, unit, "text", **fields)


def availability_table(
    title: str, desc: str, unit: str, columns: list[dm.DataTransformerConfig], column: str
) -> table.Panel:
    """An availability table, lowest ``column`` (coloured by AVAILABILITY) first."""
    return (
        table_panel(title, desc, unit, columns, thresholds=AVAILABILITY, decimals=2)
        .override_by_name(column, [prop("custom.cellOptions", {"type": "color-text"})])
        .sort_by([cb.TableSortByFieldState().display_name(column).desc(False)])
    )


def text_panel(title: str, markdown: str) -> text.Panel:
    """A Markdown text panel."""
    return text.Panel().title(title).mode(tm.TextMode.MARKDOWN).content(markdown)


FAULT_TRANSFORM = [
    organize(
        ["Time", "Value"],
        {
            "entity": "Entitas",
            "kind": "Jenis",
            "status": "Status",
            "team": "Tim pemilik",
            "owner_team": "Tim yang harus bertindak",
            "site": "Gedung",
        },
    )
]
ALERT_TRANSFORM = [
    organize(
        ["Time", "Value", "__name__", "alertstate"],
        {
            "alertname": "Alert",
            "severity": "Tingkat",
            "team": "Tim",
            "entity": "Entitas",
            "site": "Gedung",
        },
    )
]
