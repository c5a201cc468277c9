"""Grafana dashboards and provisioning for mpp-monitor, built with grafana-foundation-sdk.

``render()`` returns every generated file (repo-relative path -> text); ``tools/generate.py``
writes them, and ``tools/generate.py --check`` fails when the committed files differ.
The SDK is a development-time tool pinned in the test extra (``grafana-foundation-sdk==0.0.21``);
it leaves panel ``id`` and target ``refId`` unset, so ``Board`` assigns both.

Conventions (checked by tests/dashboards/):

* every panel and every target uses the data source variable ``${datasource}``;
* a query that may legitimately return nothing (e.g. alerts firing) is built with
  ``Q(..., may_be_empty=True)``; ``possibly_empty()`` lists those as (dashboard uid, panel
  title, refId), and the query test accepts an empty answer only for them. Its panel
  description says, in Indonesian, what an empty panel means;
* panel titles are unique within a dashboard (failures are reported by title).

Titles and descriptions are in Bahasa Indonesia, for IT staff at the MPP.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

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

# Label matchers, all regex so that multi-value and "All" (.*) selections work.
SITE = 'site=~"$site"'
AGENCY = 'agency=~"$agency"'
TEAM = 'team=~"$team"'
LINK = 'link=~"$link"'
COUNTER = 'counter=~"$counter"'
JOB = 'job=~"$job"'
OWNER_TEAM = 'owner_team=~"$team"'
FAILED = 'status=~"down|unreachable"'
DOWN = 'status="down"'
UNREACHABLE = 'status="unreachable"'
LINK_DOWN = 'state="down"'
RTT = 'phase="rtt"'
CONNECT = 'phase="connect"'
NOTIFY_FAILED = 'result=~"failed|dropped"'

# Said by every panel fed only by ICMP anchors of the uplinks: such a panel is empty when no
# uplink has an ICMP anchor (e.g. HTTP/TCP anchors only, like the demo's simulated MPP).
NO_ICMP_ANCHOR = (
    " Kosong bila tidak ada uplink yang punya anchor ICMP (mis. hanya anchor HTTP/TCP)."
)

# Numeric codes for the status enums (state timelines and stats need one number per thing).
STATUS_CODES = (("up", 1), ("down", 2), ("unreachable", 3), ("maintenance", 4), ("unknown", 5))
LINK_STATE_CODES = (("up", 1), ("degraded", 2), ("down", 3))


def sel(metric: str, *matchers: str) -> str:
    """A selector: metric{m1, m2, ...}."""
    return metric + "{" + ", ".join(matchers) + "}"


def status_code(by: str, *matchers: str) -> str:
    """One number per entity from mpp_entity_status: 1 up, 2 down, 3 unreachable, ..."""
    parts = [
        "(" + sel("mpp_entity_status", *matchers, 'status="' + s + '"') + f" == 1) * {code}"
        for s, code in STATUS_CODES
    ]
    return f"max by ({by}) (\n  " + "\n  or ".join(parts) + "\n)"


def link_state_code(*matchers: str) -> str:
    """One number per link from mpp_link_state: 1 up, 2 degraded, 3 down."""
    parts = [
        "(" + sel("mpp_link_state", *matchers, 'state="' + s + '"') + f" == 1) * {code}"
        for s, code in LINK_STATE_CODES
    ]
    return "max by (link) (\n  " + "\n  or ".join(parts) + "\n)"


def with_name(expr: str) -> str:
    """Add a short ``name`` label (entity id without ``<site>/<kind>/``) for legends."""
    return f'label_replace(\n{expr},\n"name", "$1", "entity", "[^/]+/[^/]+/(.+)")'


def open_hours() -> str:
    """1 per site while it is within service hours (mpp_site_service_open)."""
    return f"max by (site) ({sel('mpp_site_service_open', SITE)})"


SUBQUERY = "[$__range:$__interval]"
SUBQUERY_POINTS = 10000


def in_service_hours(expr: str) -> str:
    """Count, over the range, the sub-query steps of ``expr`` that fall in service hours."""
    return (
        f"sum_over_time((\n  ({expr})\n  * on (site) group_left ()\n  {open_hours()}\n){SUBQUERY})"
    )


def sh_ratio(by: str, num: str, den: str) -> str:
    """Ratio of service-hours step counts: sum(num) / sum(den), grouped by ``by``."""
    return f"sum by ({by}) ({in_service_hours(num)})\n/\nsum by ({by}) ({in_service_hours(den)})"


def fault_table_expr(*matchers: str) -> str:
    """Entities failed now, with their status and the team that must act."""
    return (
        "max by (site, kind, entity, team, owner_team, status) (\n"
        f"  ({sel('mpp_entity_fault_owner', *matchers)} == 1)\n"
        "  * on (entity) group_left (status)\n"
        "  max by (entity, status) "
        f"({sel('mpp_entity_status', *matchers, FAILED)} == 1)\n)"
    )


def probe_ratio(by: str, *matchers: str, window: str = "$__range") -> str:
    """Share of successful probe runs (from the cumulative counters: nothing lost)."""
    return (
        f"sum by ({by}) (increase({sel('mpp_probe_successes_total', *matchers)}[{window}]))\n/\n"
        f"sum by ({by}) (increase({sel('mpp_probe_runs_total', *matchers)}[{window}]))"
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
VARIABLES: dict[str, Any] = {
    "site": lambda: _query_var(
        "site", "Gedung", "label_values(mpp_entity_status, site)", "Gedung MPP (site).", ALPHA
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


def _stat(
    title: str,
    desc: str,
    unit: str,
    *,
    mappings: list[dm.ValueMapping] | None = None,
    thresholds: db.ThresholdsConfig | None = None,
    color_mode: cm.BigValueColorMode = cm.BigValueColorMode.BACKGROUND,
    text_mode: cm.BigValueTextMode = cm.BigValueTextMode.VALUE_AND_NAME,
    graph: bool = False,
    decimals: int | None = None,
) -> stat.Panel:
    p = (
        stat.Panel()
        .title(title)
        .description(desc)
        .unit(unit)
        .color_mode(color_mode)
        .text_mode(text_mode)
        .graph_mode(cm.BigValueGraphMode.AREA if graph else cm.BigValueGraphMode.NONE)
        .justify_mode(cm.BigValueJustifyMode.AUTO)
        .orientation(cm.VizOrientation.AUTO)
        .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .thresholds(thresholds or steps((None, "green")))
    )
    if mappings:
        p = p.mappings(mappings)
    if decimals is not None:
        p = p.decimals(decimals)
    return p


def _series(
    title: str,
    desc: str,
    unit: str,
    *,
    stack: bool = False,
    bars: bool = False,
    min_val: float | None = None,
    max_val: float | None = None,
) -> timeseries.Panel:
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
    if max_val is not None:
        p = p.max(max_val)
    return p


def _timeline(
    title: str,
    desc: str,
    *,
    mappings: list[dm.ValueMapping] | None = None,
    thresholds: db.ThresholdsConfig | None = None,
    unit: str = "none",
) -> statetimeline.Panel:
    p = (
        statetimeline.Panel()
        .title(title)
        .description(desc)
        .unit(unit)
        .show_value(cm.VisibilityMode.NEVER)
        .merge_values(True)
        .row_height(0.85)
        .fill_opacity(80)
        .line_width(0)
        .thresholds(thresholds or steps((None, "green")))
        .color_scheme(db.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS))
    )
    if mappings:
        p = p.mappings(mappings)
    return p


def _table(
    title: str,
    desc: str,
    unit: str,
    transformations: list[dm.DataTransformerConfig],
    *,
    mappings: list[dm.ValueMapping] | None = None,
    thresholds: db.ThresholdsConfig | None = None,
    decimals: int | None = None,
) -> table.Panel:
    p = (
        table.Panel()
        .title(title)
        .description(desc)
        .unit(unit)
        .transformations(transformations)
        .thresholds(thresholds or steps((None, "text")))
        .cell_height(cm.TableCellHeight.SM)
        .filterable(True)
    )
    if mappings:
        p = p.mappings(mappings)
    if decimals is not None:
        p = p.decimals(decimals)
    return p


def _text(title: str, markdown: str) -> text.Panel:
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


# ---------------------------------------------------------------- 1. overview


def overview() -> Board:
    """MPP overview: is the building serving?"""
    b = Board(
        "mpp-overview",
        "MPP — Ringkasan Gedung",
        "Apakah gedung MPP sedang melayani? Status internet, 44 gerai, aplikasi instansi, "
        "gangguan yang sedang terjadi beserta tim yang harus bertindak, dan alert yang menyala.",
        ["site"],
    )
    b.row("Apakah gedung melayani?")
    b.add(
        _stat(
            "Internet gedung",
            "Tersambung bila minimal satu uplink gedung naik atau menurun (degraded).",
            "none",
            mappings=INTERNET_MAP,
            thresholds=steps((None, "red"), (1, "green")),
        ),
        6,
        4,
        [Q(f"max by (site) ({sel('mpp_site_internet_up', SITE)})", "{{site}}", instant=True)],
    )
    b.add(
        _stat(
            "Gerai yang bisa melayani",
            "Jumlah gerai yang perangkatnya naik dan aplikasi penting instansinya terjangkau, "
            "dibanding jumlah semua gerai.",
            "none",
            color_mode=cm.BigValueColorMode.VALUE,
        ),
        6,
        4,
        [
            Q(f"sum({sel('mpp_can_serve', SITE)})", "Bisa melayani", instant=True),
            Q(f"count({sel('mpp_can_serve', SITE)})", "Semua gerai", instant=True),
        ],
    )
    b.add(
        _stat(
            "Gangguan aktif",
            "Jumlah entitas (uplink, perangkat, aplikasi) yang sedang gangguan atau tak "
            "terjangkau.",
            "none",
            thresholds=steps((None, "green"), (1, "red")),
        ),
        6,
        4,
        [
            Q(
                f"count({sel('mpp_entity_fault_owner', SITE)} == 1) or vector(0)",
                "Gangguan",
                instant=True,
            )
        ],
    )
    b.add(
        _stat(
            "Alert menyala",
            "Jumlah alert Prometheus yang sedang menyala untuk gedung ini.",
            "none",
            thresholds=steps((None, "green"), (1, "orange")),
        ),
        6,
        4,
        [
            Q(
                'count(ALERTS{alertstate="firing", site=~"$site|"}) or vector(0)',
                "Alert",
                instant=True,
            )
        ],
    )

    b.row("Uplink internet")
    b.add(
        _stat(
            "Status uplink",
            "Normal, menurun (kehilangan paket atau latensi di atas ambang) atau putus.",
            "none",
            mappings=LINK_MAP,
            thresholds=steps((None, "green"), (2, "yellow"), (3, "red")),
        ),
        8,
        5,
        [Q(link_state_code(SITE), "{{link}}", instant=True)],
    )
    b.add(
        _stat(
            "Kehilangan paket uplink",
            "Rasio paket ICMP yang hilang ke anchor uplink, pada probe terakhir." + NO_ICMP_ANCHOR,
            "percentunit",
            thresholds=steps((None, "green"), (0.05, "yellow"), (0.2, "red")),
            graph=True,
            color_mode=cm.BigValueColorMode.VALUE,
        ),
        8,
        5,
        [Q(f"max by (link) ({sel('mpp_link_loss_ratio', SITE)})", "{{link}}", may_be_empty=True)],
    )
    b.add(
        _stat(
            "Latensi median uplink",
            "RTT median ke anchor uplink, pada probe terakhir." + NO_ICMP_ANCHOR,
            "s",
            thresholds=steps((None, "green"), (0.1, "yellow"), (0.3, "red")),
            graph=True,
            color_mode=cm.BigValueColorMode.VALUE,
        ),
        8,
        5,
        [
            Q(
                f"max by (link) ({sel('mpp_link_rtt_median_seconds', SITE)})",
                "{{link}}",
                may_be_empty=True,
            )
        ],
    )

    b.row("Gerai layanan")
    b.add(
        _stat(
            "Gerai: bisa melayani?",
            "Satu kotak per gerai. Hijau: perangkat gerai naik dan aplikasi penting instansinya "
            "terjangkau. Merah: gerai tidak bisa melayani; lihat tabel gangguan di bawah.",
            "none",
            mappings=SERVE_MAP,
            thresholds=steps((None, "red"), (1, "green")),
        ),
        24,
        10,
        [
            Q(
                f"max by (counter, agency) ({sel('mpp_can_serve', SITE)})",
                "Gerai {{counter}} · {{agency}}",
                instant=True,
            )
        ],
    )

    b.row("Aplikasi instansi")
    b.add(
        _stat(
            "Aplikasi per instansi",
            "Status setiap aplikasi instansi. Tak terjangkau berarti semua uplink menuju "
            "aplikasi itu gagal (bukan kesalahan instansi).",
            "none",
            mappings=STATUS_MAP,
            thresholds=steps((None, "green"), (2, "red"), (3, "orange"), (4, "blue"), (5, "text")),
        ),
        24,
        5,
        [
            Q(
                with_name(status_code("site, agency, entity", SITE, 'kind="application"')),
                "{{agency}} · {{name}}",
                instant=True,
            )
        ],
    )

    b.row("Gangguan dan alert")
    b.add(
        _table(
            "Gangguan sekarang dan tim yang harus bertindak",
            "Entitas yang gangguan (kesalahan pemiliknya sendiri) atau tak terjangkau (induknya "
            "gagal: dibebankan ke tim pemilik induk).",
            "none",
            FAULT_TRANSFORM,
            mappings=FAULT_TEXT_MAP,
        ),
        14,
        9,
        [Q(fault_table_expr(SITE), table=True)],
    )
    b.add(
        _table(
            "Alert yang sedang menyala",
            "Alert Prometheus yang sedang menyala. Boleh kosong: kosong berarti tidak ada "
            "alert yang menyala.",
            "none",
            ALERT_TRANSFORM,
        ),
        10,
        9,
        [Q('ALERTS{alertstate="firing", site=~"$site|"}', table=True, may_be_empty=True)],
    )
    return b


# ---------------------------------------------------------------- 2. internet links


def links() -> Board:
    """Internet uplinks: availability, SmokePing-style latency, loss, jitter, DNS and HTTP."""
    b = Board(
        "mpp-links",
        "MPP — Uplink Internet",
        "Per uplink: ketersediaan, latensi gaya SmokePing (median dengan sebaran min–maks), "
        "kehilangan paket, jitter, DNS dan HTTP melalui uplink, serta kapan uplink putus.",
        ["site", "link"],
    )
    link_sel = (SITE, LINK)
    target_sel = (SITE, 'kind="link"', LINK)
    b.row("Status dan ketersediaan")
    b.add(
        _timeline(
            "Status uplink dari waktu ke waktu",
            "Kapan setiap uplink normal, menurun atau putus.",
            mappings=LINK_MAP,
            thresholds=steps((None, "green"), (2, "yellow"), (3, "red")),
        ),
        24,
        6,
        [Q(link_state_code(*link_sel), "{{link}}")],
    )
    b.add(
        _stat(
            "Ketersediaan uplink (rentang terpilih)",
            "Bagian waktu uplink tidak putus (normal atau menurun) dalam rentang waktu terpilih, "
            "jam dinding 24 jam.",
            "percentunit",
            thresholds=AVAILABILITY,
            decimals=2,
        ),
        8,
        5,
        [
            Q(
                "1 - avg by (link) (avg_over_time("
                f"{sel('mpp_link_state', *link_sel, LINK_DOWN)}[$__range]))",
                "{{link}}",
                instant=True,
            )
        ],
    )
    b.add(
        _stat(
            "Lama putus (rentang terpilih)",
            "Perkiraan total waktu uplink putus dalam rentang waktu terpilih.",
            "s",
            thresholds=steps((None, "green"), (300, "orange"), (3600, "red")),
        ),
        8,
        5,
        [
            Q(
                "sum by (link) (avg_over_time("
                f"{sel('mpp_link_state', *link_sel, LINK_DOWN)}[$__range])) * $__range_s",
                "{{link}}",
                instant=True,
            )
        ],
    )
    b.add(
        _stat(
            "Internet gedung tersedia (rentang terpilih)",
            "Bagian waktu minimal satu uplink gedung naik.",
            "percentunit",
            thresholds=AVAILABILITY,
            decimals=2,
        ),
        8,
        5,
        [
            Q(
                f"max by (site) (avg_over_time({sel('mpp_site_internet_up', SITE)}[$__range]))",
                "{{site}}",
                instant=True,
            )
        ],
    )

    b.row("Latensi (gaya SmokePing)")
    smoke = _series(
        "Latensi $link: median dengan sebaran min–maks",
        "Garis: RTT median ke anchor uplink. Pita: RTT terendah sampai tertinggi dalam tiap "
        "interval. Pita yang melebar berarti latensi tidak stabil." + NO_ICMP_ANCHOR,
        "s",
        min_val=0,
    )
    smoke = (
        smoke.repeat("link")
        .repeat_direction("h")
        .max_per_row(2)
        .override_by_name(
            "maks",
            [
                prop("custom.fillBelowTo", "min"),
                prop("custom.lineWidth", 0),
                prop("custom.fillOpacity", 30),
                prop("color", {"mode": "fixed", "fixedColor": "super-light-blue"}),
            ],
        )
        .override_by_name(
            "min",
            [
                prop("custom.lineWidth", 0),
                prop("custom.fillOpacity", 0),
                prop("color", {"mode": "fixed", "fixedColor": "super-light-blue"}),
            ],
        )
        .override_by_name(
            "median",
            [
                prop("custom.lineWidth", 2),
                prop("color", {"mode": "fixed", "fixedColor": "dark-green"}),
            ],
        )
    )
    b.add(
        smoke,
        24,
        8,
        [
            Q(
                "min by (link) (min_over_time("
                f"{sel('probe_icmp_duration_rtt_min_seconds', *target_sel)}[$__rate_interval]))",
                "min",
                may_be_empty=True,
            ),
            Q(
                "max by (link) (max_over_time("
                f"{sel('probe_icmp_duration_rtt_max_seconds', *target_sel)}[$__rate_interval]))",
                "maks",
                may_be_empty=True,
            ),
            Q(
                f"max by (link) ({sel('mpp_link_rtt_median_seconds', *link_sel)})",
                "median",
                may_be_empty=True,
            ),
        ],
    )

    b.row("Kehilangan paket dan jitter")
    b.add(
        _series(
            "Kehilangan paket per uplink",
            "Rasio paket ICMP yang hilang, gabungan semua anchor uplink." + NO_ICMP_ANCHOR,
            "percentunit",
            min_val=0,
            max_val=1,
        ),
        12,
        8,
        [
            Q(
                f"max by (link) ({sel('mpp_link_loss_ratio', *link_sel)})",
                "{{link}}",
                may_be_empty=True,
            )
        ],
    )
    b.add(
        _series(
            "Jitter per anchor",
            "Simpangan baku RTT ICMP per anchor uplink." + NO_ICMP_ANCHOR,
            "s",
            min_val=0,
        ),
        12,
        8,
        [
            Q(
                "max by (link, target) ("
                f"{sel('probe_icmp_duration_rtt_stddev_seconds', *target_sel)})",
                "{{target}}",
                may_be_empty=True,
            )
        ],
    )

    b.row("DNS dan HTTP melalui uplink")
    b.add(
        _series(
            "Waktu lookup DNS melalui uplink",
            "Lama resolusi DNS yang dikirim lewat uplink.",
            "s",
            min_val=0,
        ),
        12,
        8,
        [
            Q(
                f"max by (link, target) ({sel('probe_dns_lookup_time_seconds', *target_sel)})",
                "{{target}}",
            )
        ],
    )
    b.add(
        _series(
            "Durasi HTTP per fase melalui uplink",
            "Fase permintaan HTTP lewat uplink: resolve, connect, tls, processing, transfer.",
            "s",
            stack=True,
            min_val=0,
        ),
        12,
        8,
        [
            Q(
                f"sum by (link, phase) ({sel('probe_http_duration_seconds', *target_sel)})",
                "{{link}} · {{phase}}",
            )
        ],
    )
    b.add(
        _stat(
            "Keberhasilan probe per jenis (rentang terpilih)",
            "Bagian run probe yang berhasil, per uplink dan jenis probe (icmp, dns, http).",
            "percentunit",
            thresholds=AVAILABILITY,
            decimals=2,
        ),
        24,
        5,
        [Q(probe_ratio("link, probe", *target_sel), "{{link}} · {{probe}}", instant=True)],
    )
    return b


# ---------------------------------------------------------------- 3. applications


def applications() -> Board:
    """Agency applications: availability, latency by phase, status codes, certificates."""
    b = Board(
        "mpp-applications",
        "MPP — Aplikasi Instansi",
        "Per instansi: ketersediaan aplikasi, latensi per fase (resolve/connect/tls/processing/"
        "transfer), kode status HTTP, masa berlaku sertifikat, dan alasan kegagalan.",
        ["site", "app_agency"],
    )
    app = (SITE, 'kind="application"', AGENCY)
    b.row("Status")
    b.add(
        _stat(
            "Status aplikasi",
            "Status setiap aplikasi sekarang. Tak terjangkau berarti semua uplink menuju "
            "aplikasi gagal (dibebankan ke Kominfo, bukan ke instansi).",
            "none",
            mappings=STATUS_MAP,
            thresholds=steps((None, "green"), (2, "red"), (3, "orange"), (4, "blue"), (5, "text")),
        ),
        12,
        5,
        [
            Q(
                with_name(status_code("site, agency, entity", *app)),
                "{{agency}} · {{name}}",
                instant=True,
            )
        ],
    )
    b.add(
        _stat(
            "Keberhasilan probe (rentang terpilih)",
            "Bagian run probe yang berhasil dalam rentang waktu terpilih.",
            "percentunit",
            thresholds=AVAILABILITY,
            decimals=2,
        ),
        12,
        5,
        [Q(with_name(probe_ratio("agency, entity", *app)), "{{agency}} · {{name}}", instant=True)],
    )
    b.add(
        _timeline(
            "Riwayat status aplikasi",
            "Kapan setiap aplikasi normal, gangguan, tak terjangkau atau dalam pemeliharaan.",
            mappings=STATUS_MAP,
            thresholds=steps((None, "green"), (2, "red"), (3, "orange"), (4, "blue"), (5, "text")),
        ),
        24,
        6,
        [Q(with_name(status_code("agency, entity", *app)), "{{agency}} · {{name}}")],
    )

    b.row("Latensi")
    b.add(
        _series(
            "Latensi per fase — $agency",
            "Lama tiap fase permintaan HTTP ke aplikasi instansi, bertumpuk: resolve, connect, "
            "tls, processing (menunggu server), transfer.",
            "s",
            stack=True,
            min_val=0,
        )
        .repeat("agency")
        .repeat_direction("h")
        .max_per_row(2),
        24,
        8,
        [
            Q(
                with_name(f"sum by (entity, phase) ({sel('probe_http_duration_seconds', *app)})"),
                "{{name}} · {{phase}}",
            )
        ],
    )
    b.add(
        _series(
            "Durasi probe total",
            "Lama seluruh probe per aplikasi (termasuk yang gagal sampai batas waktu).",
            "s",
            min_val=0,
        ),
        12,
        8,
        [
            Q(
                with_name(f"max by (agency, entity) ({sel('probe_duration_seconds', *app)})"),
                "{{agency}} · {{name}}",
            )
        ],
    )
    b.add(
        _timeline(
            "Kode status HTTP",
            "Kode status HTTP jawaban terakhir. 0 berarti tidak ada jawaban (batas waktu, "
            "koneksi ditolak, TLS gagal).",
            thresholds=steps(
                (None, "red"), (200, "green"), (300, "yellow"), (400, "orange"), (500, "red")
            ),
        ).show_value(cm.VisibilityMode.AUTO),
        12,
        8,
        [
            Q(
                with_name(f"max by (agency, entity) ({sel('probe_http_status_code', *app)})"),
                "{{agency}} · {{name}}",
            )
        ],
    )

    b.row("Sertifikat dan kegagalan")
    b.add(
        _table(
            "Sertifikat TLS kedaluwarsa dalam",
            "Sisa waktu sampai sertifikat TLS aplikasi kedaluwarsa. Merah: kurang dari 7 hari; "
            "oranye: kurang dari 30 hari. Negatif berarti sudah kedaluwarsa.",
            "s",
            [
                organize(
                    ["Time", "entity", "site"],
                    {"agency": "Instansi", "name": "Aplikasi", "Value": "Sisa waktu"},
                )
            ],
            thresholds=steps((None, "red"), (7 * 86400, "orange"), (30 * 86400, "green")),
        ).override_by_name(
            "Sisa waktu",
            [prop("custom.cellOptions", {"type": "color-text"})],
        ),
        12,
        8,
        [
            Q(
                with_name(
                    "min by (site, agency, entity) ("
                    f"{sel('probe_ssl_earliest_cert_expiry', *app)}) - time()"
                ),
                table=True,
            )
        ],
    )
    b.add(
        _table(
            "Kegagalan per alasan (rentang terpilih)",
            "Jumlah run probe yang gagal per aplikasi dan alasan (timeout, dns, status, "
            "tls_expired, ...).",
            "none",
            [
                organize(
                    ["Time", "entity", "site"],
                    {
                        "agency": "Instansi",
                        "name": "Aplikasi",
                        "reason": "Alasan",
                        "Value": "Gagal",
                    },
                )
            ],
            decimals=0,
        ),
        12,
        8,
        [
            Q(
                with_name(
                    "sum by (site, agency, entity, reason) (increase("
                    f"{sel('mpp_probe_failures_total', *app)}[$__range]))"
                ),
                table=True,
            )
        ],
    )
    b.add(
        _series(
            "Kegagalan per alasan dari waktu ke waktu",
            "Run probe yang gagal per interval, per aplikasi dan alasan.",
            "none",
            bars=True,
            stack=True,
            min_val=0,
        ),
        24,
        8,
        [
            Q(
                with_name(
                    "sum by (entity, reason) (increase("
                    f"{sel('mpp_probe_failures_total', *app)}[$__rate_interval]))"
                ),
                "{{name}} · {{reason}}",
            )
        ],
    )
    return b


# ---------------------------------------------------------------- 4. counters and devices


def counters() -> Board:
    """Counters and their devices: status, ICMP/TCP health, history."""
    b = Board(
        "mpp-counters",
        "MPP — Gerai dan Perangkat",
        "Per gerai dan perangkat (PC, printer, layar antrean, pembaca): status, kesehatan "
        "ICMP/TCP dan riwayat. Perangkat tak terjangkau bila switch induknya gagal.",
        ["site", "counter_agency", "counter"],
    )
    csel = (SITE, AGENCY, COUNTER)
    dev = (SITE, 'kind="device"', AGENCY, COUNTER)
    b.row("Gerai")
    b.add(
        _stat(
            "Gerai terpilih: bisa melayani?",
            "Hijau: perangkat gerai naik dan aplikasi penting instansinya terjangkau.",
            "none",
            mappings=SERVE_MAP,
            thresholds=steps((None, "red"), (1, "green")),
        ),
        24,
        6,
        [
            Q(
                f"max by (counter, agency) ({sel('mpp_can_serve', *csel)})",
                "Gerai {{counter}} · {{agency}}",
                instant=True,
            )
        ],
    )
    b.add(
        _timeline(
            "Riwayat gerai",
            "Kapan setiap gerai bisa atau tidak bisa melayani.",
            mappings=SERVE_MAP,
            thresholds=steps((None, "red"), (1, "green")),
        ),
        24,
        8,
        [
            Q(
                f"max by (counter, agency) ({sel('mpp_can_serve', *csel)})",
                "Gerai {{counter}} · {{agency}}",
            )
        ],
    )

    b.row("Perangkat")
    b.add(
        _stat(
            "Status perangkat",
            "Status setiap perangkat gerai sekarang.",
            "none",
            mappings=STATUS_MAP,
            thresholds=steps((None, "green"), (2, "red"), (3, "orange"), (4, "blue"), (5, "text")),
        ),
        24,
        6,
        [
            Q(
                status_code("counter, device", *dev),
                "Gerai {{counter}} · {{device}}",
                instant=True,
            )
        ],
    )
    b.add(
        _timeline(
            "Riwayat status perangkat",
            "Kapan setiap perangkat normal, gangguan, tak terjangkau atau dalam pemeliharaan.",
            mappings=STATUS_MAP,
            thresholds=steps((None, "green"), (2, "red"), (3, "orange"), (4, "blue"), (5, "text")),
        ),
        24,
        8,
        [Q(status_code("counter, device", *dev), "Gerai {{counter}} · {{device}}")],
    )

    b.row("Kesehatan ICMP dan TCP")
    b.add(
        _series(
            "RTT ICMP perangkat", "Waktu pulang-pergi ping rata-rata ke perangkat.", "s", min_val=0
        ),
        12,
        8,
        [
            Q(
                f"max by (counter, device) ({sel('probe_icmp_duration_seconds', *dev, RTT)})",
                "Gerai {{counter}} · {{device}}",
            )
        ],
    )
    b.add(
        _series(
            "Kehilangan paket perangkat",
            "Rasio ping yang hilang ke perangkat.",
            "percentunit",
            min_val=0,
            max_val=1,
        ),
        12,
        8,
        [
            Q(
                f"max by (counter, device) ({sel('probe_icmp_packet_loss_ratio', *dev)})",
                "Gerai {{counter}} · {{device}}",
            )
        ],
    )
    b.add(
        _series(
            "Waktu sambung TCP perangkat",
            "Lama membuka koneksi TCP ke layanan perangkat (mis. RDP, printer).",
            "s",
            min_val=0,
        ),
        12,
        8,
        [
            Q(
                "max by (counter, device, target) ("
                f"{sel('probe_tcp_duration_seconds', *dev, CONNECT)})",
                "{{target}}",
            )
        ],
    )
    b.add(
        _table(
            "Keberhasilan probe per perangkat (rentang terpilih)",
            "Bagian run probe yang berhasil per perangkat dan jenis probe.",
            "percentunit",
            [
                organize(
                    ["Time"],
                    {
                        "counter": "Gerai",
                        "device": "Perangkat",
                        "probe": "Probe",
                        "Value": "Berhasil",
                    },
                )
            ],
            thresholds=AVAILABILITY,
            decimals=2,
        ).override_by_name("Berhasil", [prop("custom.cellOptions", {"type": "color-text"})]),
        12,
        8,
        [Q(probe_ratio("counter, device, probe", *dev), table=True)],
    )

    b.row("Jaringan lokal dan gangguan")
    b.add(
        _stat(
            "Switch dan perangkat jaringan",
            "Status perangkat infrastruktur LAN (milik Kominfo). Bila gagal, perangkat gerai di "
            "belakangnya menjadi tak terjangkau.",
            "none",
            mappings=STATUS_MAP,
            thresholds=steps((None, "green"), (2, "red"), (3, "orange"), (4, "blue"), (5, "text")),
        ),
        8,
        6,
        [Q(with_name(status_code("entity", SITE, 'kind="infra"')), "{{name}}", instant=True)],
    )
    b.add(
        _table(
            "Gangguan perangkat sekarang",
            "Perangkat gerai dan LAN yang gangguan atau tak terjangkau, dengan tim yang harus "
            "bertindak.",
            "none",
            FAULT_TRANSFORM,
            mappings=FAULT_TEXT_MAP,
        ),
        16,
        6,
        [
            Q(
                fault_table_expr(
                    SITE, 'kind=~"device|infra"', 'agency=~"$agency|"', 'counter=~"$counter|"'
                ),
                table=True,
            )
        ],
    )
    return b


# ---------------------------------------------------------------- 5. uptime / SLA

SLA_NOTE = """\
**Cara membaca.** Angka di baris *jam layanan* hanya menghitung waktu ketika gedung buka
(`mpp_site_service_open` = 1: hari kerja, bukan hari libur nasional atau cuti bersama).
Baris *jam dinding* menghitung 24 jam sehari.

**Atribusi pemilik.** Waktu *gangguan* (down) dibebankan ke tim pemilik entitas itu sendiri.
Waktu *tak terjangkau* (unreachable: induknya gagal, mis. switch atau semua uplink) dibebankan ke
tim pemilik induk yang gagal — bukan ke instansi yang perangkatnya terdampak.

Angka di sini adalah perkiraan dengan resolusi `$__interval`. Angka resmi untuk rapat evaluasi
bulanan ada di laporan bulanan (`mpp-monitor report`).
"""


def uptime() -> Board:
    """Availability per agency, link, team and counter; service hours; owner attribution."""
    b = Board(
        "mpp-uptime",
        "MPP — Ketersediaan dan SLA",
        "Ketersediaan per instansi, uplink, tim dan gerai selama jam layanan, dengan atribusi "
        "pemilik: waktu tak terjangkau dibebankan ke tim pemilik induk yang gagal. Angka resmi "
        "bulanan: laporan `mpp-monitor report`.",
        ["site", "team", "agency"],
        time_from="now-30d",
        refresh="5m",
    )
    ent = (SITE, TEAM, AGENCY)
    b.row("Cara membaca")
    b.add(_text("Cara membaca angka ketersediaan", SLA_NOTE), 24, 5)

    b.row("Selama jam layanan")
    b.add(
        _stat(
            "Gerai bisa melayani, per instansi (jam layanan)",
            "Bagian jam layanan ketika gerai instansi bisa melayani: sudut pandang warga.",
            "percentunit",
            thresholds=AVAILABILITY,
            decimals=2,
        ),
        12,
        6,
        [
            Q(
                sh_ratio(
                    "agency",
                    sel("mpp_can_serve", SITE, AGENCY),
                    f"{sel('mpp_can_serve', SITE, AGENCY)} * 0 + 1",
                ),
                "{{agency}}",
                instant=True,
            )
        ],
    )
    b.add(
        _stat(
            "Uplink tersedia (jam layanan)",
            "Bagian jam layanan ketika uplink tidak putus (normal atau menurun).",
            "percentunit",
            thresholds=AVAILABILITY,
            decimals=2,
        ),
        12,
        6,
        [
            Q(
                sh_ratio(
                    "link",
                    sel("mpp_link_state", SITE, 'state=~"up|degraded"'),
                    sel("mpp_link_state", SITE),
                ),
                "{{link}}",
                instant=True,
            )
        ],
    )
    b.add(
        _stat(
            "Ketersediaan per tim, kesalahan sendiri (jam layanan)",
            "Naik / (naik + gangguan) untuk entitas milik tim: waktu tak terjangkau tidak "
            "dihitung karena bukan kesalahan tim itu.",
            "percentunit",
            thresholds=AVAILABILITY,
            decimals=2,
        ),
        12,
        6,
        [
            Q(
                sh_ratio(
                    "team",
                    sel("mpp_entity_status", *ent, 'status="up"'),
                    sel("mpp_entity_status", *ent, 'status=~"up|down"'),
                ),
                "{{team}}",
                instant=True,
            )
        ],
    )
    b.add(
        _stat(
            "Aplikasi tersedia per instansi (jam layanan)",
            "Naik / (naik + gangguan + tak terjangkau) untuk aplikasi instansi: sudut pandang "
            "petugas gerai.",
            "percentunit",
            thresholds=AVAILABILITY,
            decimals=2,
        ),
        12,
        6,
        [
            Q(
                sh_ratio(
                    "agency",
                    sel("mpp_entity_status", *ent, 'kind="application"', 'status="up"'),
                    sel(
                        "mpp_entity_status",
                        *ent,
                        'kind="application"',
                        'status=~"up|down|unreachable"',
                    ),
                ),
                "{{agency}}",
                instant=True,
            )
        ],
    )
    seconds = "* $__interval_ms / 1000"
    b.add(
        _table(
            "Atribusi pemilik: waktu gangguan per tim (jam layanan)",
            "Per tim: waktu gangguan entitas sendiri, waktu entitasnya tak terjangkau karena "
            "induk milik tim lain gagal, dan total waktu gangguan yang dibebankan ke tim ini "
            "(termasuk entitas tim lain yang tak terjangkau karena induk milik tim ini). "
            "Satuan: detik-entitas.",
            "s",
            [
                dm.DataTransformerConfig(id_val="merge", options={}),
                organize(
                    ["Time"],
                    {
                        "team": "Tim",
                        "Value #A": "Gangguan sendiri",
                        "Value #B": "Tak terjangkau (induk gagal)",
                        "Value #C": "Dibebankan ke tim ini",
                        "Value #D": "Ketersediaan (kesalahan sendiri)",
                    },
                ),
            ],
        ).override_by_name(
            "Ketersediaan (kesalahan sendiri)",
            [prop("unit", "percentunit"), prop("decimals", 2)],
        ),
        24,
        8,
        [
            Q(
                f"sum by (team) ({in_service_hours(sel('mpp_entity_status', *ent, DOWN))})"
                f" {seconds}",
                table=True,
            ),
            Q(
                "sum by (team) ("
                f"{in_service_hours(sel('mpp_entity_status', *ent, UNREACHABLE))})"
                f" {seconds}",
                table=True,
            ),
            Q(
                "sum by (team) (label_replace(sum by (owner_team) ("
                f"{in_service_hours(sel('mpp_entity_fault_owner', SITE, OWNER_TEAM))}"
                f'), "team", "$1", "owner_team", "(.*)")) {seconds}',
                table=True,
            ),
            Q(
                sh_ratio(
                    "team",
                    sel("mpp_entity_status", *ent, 'status="up"'),
                    sel("mpp_entity_status", *ent, 'status=~"up|down"'),
                ),
                table=True,
            ),
        ],
    )
    b.add(
        _table(
            "Ketersediaan per gerai (jam layanan)",
            "Bagian jam layanan ketika gerai bisa melayani, urut dari yang terendah.",
            "percentunit",
            [
                organize(
                    ["Time"], {"counter": "Gerai", "agency": "Instansi", "Value": "Bisa melayani"}
                )
            ],
            thresholds=AVAILABILITY,
            decimals=2,
        )
        .override_by_name("Bisa melayani", [prop("custom.cellOptions", {"type": "color-text"})])
        .sort_by([cb.TableSortByFieldState().display_name("Bisa melayani").desc(False)]),
        12,
        10,
        [
            Q(
                sh_ratio(
                    "counter, agency",
                    sel("mpp_can_serve", SITE, AGENCY),
                    f"{sel('mpp_can_serve', SITE, AGENCY)} * 0 + 1",
                ),
                table=True,
            )
        ],
    )
    b.add(
        _table(
            "Ketersediaan per entitas (jam layanan)",
            "Naik / (naik + gangguan + tak terjangkau) per uplink, perangkat dan aplikasi, urut "
            "dari yang terendah.",
            "percentunit",
            [
                organize(
                    ["Time", "entity"],
                    {"kind": "Jenis", "team": "Tim", "name": "Entitas", "Value": "Tersedia"},
                )
            ],
            thresholds=AVAILABILITY,
            decimals=2,
        )
        .override_by_name("Tersedia", [prop("custom.cellOptions", {"type": "color-text"})])
        .sort_by([cb.TableSortByFieldState().display_name("Tersedia").desc(False)]),
        12,
        10,
        [
            Q(
                with_name(
                    sh_ratio(
                        "kind, team, entity",
                        sel("mpp_entity_status", *ent, 'status="up"'),
                        sel("mpp_entity_status", *ent, 'status=~"up|down|unreachable"'),
                    )
                ),
                table=True,
            )
        ],
    )

    b.row("Sepanjang waktu (jam dinding, 24 jam)")
    b.add(
        _stat(
            "Uplink tersedia (jam dinding)",
            "Bagian waktu uplink tidak putus, 24 jam sehari.",
            "percentunit",
            thresholds=AVAILABILITY,
            decimals=2,
        ),
        12,
        5,
        [
            Q(
                "1 - avg by (link) (avg_over_time("
                f"{sel('mpp_link_state', SITE, LINK_DOWN)}[$__range]))",
                "{{link}}",
                instant=True,
            )
        ],
    )
    b.add(
        _stat(
            "Gerai bisa melayani, per instansi (jam dinding)",
            "Bagian waktu gerai instansi bisa melayani, 24 jam sehari.",
            "percentunit",
            thresholds=AVAILABILITY,
            decimals=2,
        ),
        12,
        5,
        [
            Q(
                f"avg by (agency) (avg_over_time({sel('mpp_can_serve', SITE, AGENCY)}[$__range]))",
                "{{agency}}",
                instant=True,
            )
        ],
    )
    b.add(
        _series(
            "Entitas bermasalah per tim yang harus bertindak",
            "Jumlah entitas gangguan atau tak terjangkau, menurut tim yang harus bertindak.",
            "none",
            bars=True,
            stack=True,
            min_val=0,
        ),
        24,
        8,
        [
            Q(
                f"sum by (owner_team) ({sel('mpp_entity_fault_owner', SITE, OWNER_TEAM)})",
                "{{owner_team}}",
            )
        ],
    )
    return b


# ---------------------------------------------------------------- 6. monitor health


def health() -> Board:
    """The monitor itself: scrape, scheduler lateness, probes in flight, reloads, notifier."""
    b = Board(
        "mpp-monitor-health",
        "MPP — Kesehatan Monitor",
        "Kesehatan mpp-monitor sendiri: scrape /metrics, keterlambatan penjadwal, probe yang "
        "sedang berjalan, reload konfigurasi, dan kegagalan pengiriman notifikasi.",
        ["job", "site"],
        alert_annotations=False,
    )
    b.row("Layanan")
    b.add(
        _stat(
            "Scrape /metrics",
            "Apakah Prometheus berhasil mengambil /metrics mpp-monitor.",
            "none",
            mappings=UP_MAP,
            thresholds=steps((None, "red"), (1, "green")),
        ),
        6,
        4,
        [Q(sel("up", JOB), "{{instance}}", instant=True)],
    )
    b.add(
        _stat(
            "Versi",
            "Versi mpp-monitor dan Python yang berjalan.",
            "none",
            text_mode=cm.BigValueTextMode.NAME,
            color_mode=cm.BigValueColorMode.NONE,
        ),
        6,
        4,
        [
            Q(
                f"max by (version, python) ({sel('mpp_build_info', JOB)})",
                "{{version}} · Python {{python}}",
                instant=True,
            )
        ],
    )
    b.add(
        _stat(
            "Reload konfigurasi terakhir",
            "Gagal berarti konfigurasi baru ditolak dan konfigurasi lama tetap berjalan; "
            "alasannya ada di log.",
            "none",
            mappings=RELOAD_MAP,
            thresholds=steps((None, "red"), (1, "green")),
        ),
        6,
        4,
        [Q(f"min({sel('mpp_config_last_reload_successful', JOB)})", "Reload", instant=True)],
    )
    b.add(
        _stat(
            "Reload berhasil terakhir",
            "Kapan konfigurasi terakhir berhasil dimuat.",
            "dateTimeFromNow",
            color_mode=cm.BigValueColorMode.NONE,
            text_mode=cm.BigValueTextMode.VALUE,
        ),
        6,
        4,
        [
            Q(
                f"max({sel('mpp_config_last_reload_success_timestamp_seconds', JOB)}) * 1000",
                "Reload",
                instant=True,
            )
        ],
    )

    b.row("Scrape dan penjadwal")
    b.add(
        _series("Durasi scrape /metrics", "Lama Prometheus mengambil /metrics.", "s", min_val=0),
        8,
        7,
        [Q(sel("scrape_duration_seconds", JOB), "{{instance}}")],
    )
    b.add(
        _series("Sampel per scrape", "Jumlah deret waktu di /metrics.", "none", min_val=0),
        8,
        7,
        [Q(sel("scrape_samples_scraped", JOB), "{{instance}}")],
    )
    b.add(
        _stat(
            "Target terkonfigurasi",
            "Jumlah target probe per gedung dan jenis probe.",
            "none",
            color_mode=cm.BigValueColorMode.VALUE,
        ),
        8,
        7,
        [
            Q(
                f"sum by (site, probe) ({sel('mpp_targets', JOB, SITE)})",
                "{{site}} · {{probe}}",
                instant=True,
            )
        ],
    )
    lateness = sel("mpp_scheduler_start_lateness_seconds_bucket", JOB)
    b.add(
        _series(
            "Keterlambatan mulai probe",
            "Selisih waktu mulai sebenarnya dengan jadwal (p50 dan p99). Naik terus berarti "
            "monitor kewalahan.",
            "s",
            min_val=0,
        ),
        12,
        8,
        [
            Q(f"histogram_quantile(0.5, sum by (le) (rate({lateness}[$__rate_interval])))", "p50"),
            Q(f"histogram_quantile(0.99, sum by (le) (rate({lateness}[$__rate_interval])))", "p99"),
        ],
    )
    b.add(
        _series(
            "Probe sedang berjalan", "Jumlah run probe yang sedang berjalan.", "none", min_val=0
        ),
        12,
        8,
        [Q(f"sum({sel('mpp_probes_in_flight', JOB)})", "Sedang berjalan")],
    )
    b.add(
        _series("Laju probe per jenis", "Run probe per detik, per jenis probe.", "ops", min_val=0),
        12,
        8,
        [
            Q(
                "sum by (probe) (rate("
                f"{sel('mpp_probe_runs_total', JOB, SITE)}[$__rate_interval]))",
                "{{probe}}",
            )
        ],
    )
    b.add(
        _series(
            "Run yang dilewati",
            "Run probe yang dilewati karena run sebelumnya belum selesai.",
            "none",
            bars=True,
            min_val=0,
        ),
        12,
        8,
        [
            Q(
                f"sum(increase({sel('mpp_scheduler_runs_skipped_total', JOB)}[$__rate_interval]))",
                "Dilewati",
            )
        ],
    )
    b.add(
        _table(
            "Hasil probe paling usang",
            "Sepuluh target yang hasil terakhirnya paling lama. Umur jauh di atas interval "
            "probe berarti target itu tidak lagi diprobe.",
            "s",
            [organize(["Time"], {"target": "Target", "probe": "Probe", "Value": "Umur hasil"})],
        ),
        24,
        7,
        [
            Q(
                "topk(10, max by (target, probe) (time() - "
                f"{sel('mpp_probe_last_run_timestamp_seconds', JOB, SITE)}))",
                table=True,
            )
        ],
    )

    b.row("Notifikasi")
    b.add(
        _series(
            "Pesan notifikasi per hasil",
            "Pesan ke Telegram/WhatsApp per tim, kanal dan hasil (sent, failed, dropped). Boleh "
            "kosong: kosong berarti belum ada alert yang dikirim.",
            "none",
            bars=True,
            stack=True,
            min_val=0,
        ),
        12,
        8,
        [
            Q(
                "sum by (team, channel, result) (increase("
                f"{sel('mpp_notifier_messages_total', JOB)}[$__rate_interval]))",
                "{{team}} · {{channel}} · {{result}}",
                may_be_empty=True,
            )
        ],
    )
    b.add(
        _series("Antrean notifikasi", "Pesan yang menunggu dikirim.", "none", min_val=0),
        6,
        8,
        [Q(f"sum({sel('mpp_notifier_queue_length', JOB)})", "Antrean")],
    )
    b.add(
        _stat(
            "Notifikasi gagal atau dibuang (rentang terpilih)",
            "Pesan yang gagal dikirim atau dibuang karena antrean penuh.",
            "none",
            thresholds=steps((None, "green"), (1, "red")),
            decimals=0,
        ),
        6,
        8,
        [
            Q(
                "sum(increase("
                f"{sel('mpp_notifier_messages_total', JOB, NOTIFY_FAILED)}"
                "[$__range])) or vector(0)",
                "Gagal",
                instant=True,
            )
        ],
    )
    return b


# ---------------------------------------------------------------- provisioning and output

BOARDS = (overview, links, applications, counters, uptime, health)

DATASOURCE_YAML = f"""\
# Grafana data source for mpp-monitor (generated by dashboards/build.py; do not edit).
# Copy to /etc/grafana/provisioning/datasources/. The uid is fixed so links keep working;
# the dashboards themselves pick a Prometheus data source with their "datasource" variable.
# Grafana expands environment variables written with a dollar sign in values here.
apiVersion: 1
datasources:
  - name: {DATASOURCE_NAME}
    uid: {DATASOURCE_UID}
    type: prometheus
    access: proxy
    url: http://127.0.0.1:9090
    isDefault: true
    editable: false
    jsonData:
      httpMethod: POST
      # Prometheus' scrape interval for mpp-monitor: Grafana derives $__rate_interval from it.
      timeInterval: 15s
"""

PROVIDER_YAML = f"""\
# Grafana dashboard provider for mpp-monitor (generated by dashboards/build.py; do not edit).
# Copy to /etc/grafana/provisioning/dashboards/ and the dashboards/*.json files to
# {DASHBOARD_PATH}/.
apiVersion: 1
providers:
  - name: mpp-monitor
    orgId: 1
    folder: MPP
    folderUid: mpp
    type: file
    disableDeletion: true
    allowUiUpdates: false
    updateIntervalSeconds: 60
    options:
      path: {DASHBOARD_PATH}
      foldersFromFilesStructure: false
"""


def boards() -> list[Board]:
    """Build every dashboard."""
    return [make() for make in BOARDS]


def possibly_empty() -> frozenset[tuple[str, str, str]]:
    """Queries allowed to return no data: (dashboard uid, panel title, refId)."""
    return frozenset(item for b in boards() for item in b.possibly_empty)


def render() -> dict[str, str]:
    """Every generated file: repo-relative path -> text (stable: sorted keys, newline)."""
    out = {
        f"dashboards/{b.uid}.json": json.dumps(
            b.json(), indent=2, sort_keys=True, ensure_ascii=False
        )
        + "\n"
        for b in boards()
    }
    out["dashboards/provisioning/datasources/prometheus.yml"] = DATASOURCE_YAML
    out["dashboards/provisioning/dashboards/mpp.yml"] = PROVIDER_YAML
    return out
