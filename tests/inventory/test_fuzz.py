"""What check-config accepts, the service runs: property-based fuzzing of the real building.

Each example mutates examples/mpp-paser.yaml (hostile values put in at random places, keys and
list items dropped or doubled, values swapped between fields, bytes of the text cut or
inserted) and runs ``mpp-monitor check-config`` in-process. It must exit 0 or 1 with nothing
escaping but its report; every error line must read ``FILE:LINE:COL: ...`` (or ``FILE: ...``
for the file as a whole). For every file it accepts, the runtime objects of a service are
built from the plan (state, jobs, maintenance windows, notifier routing: ``Service.prepare``),
installed, and the status page, the JSON status and /metrics rendered, without probing.

The unit tier runs a few examples; the integration tier (marked slow) runs 200. Hypothesis
keeps no database here: a failure prints its example, and its seed reproduces it.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime as dt
import io
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from ruamel.yaml import YAML

from monitor.commands import check_config
from monitor.commands.run import maintenance_for
from monitor.inventory import load_config
from monitor.inventory.load import parse_yaml
from monitor.service import Service, notifier_routing
from monitor.web.app import status_json
from monitor.web.statuspage import render_page
from probes.base import ProbeContext, ProbeResult

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "mpp-paser.yaml"
BASE: Any = parse_yaml(EXAMPLE.read_text(encoding="utf-8"), str(EXAMPLE)).data


def _paths(data: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in the document: mapping values and list items, containers included."""
    out = [at] if at else []
    if isinstance(data, dict):
        for key, value in data.items():
            out.extend(_paths(value, (*at, key)))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out.extend(_paths(value, (*at, i)))
    return out


PATHS = _paths(BASE)


def _at(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def _deep(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


HOSTILE: list[Any] = [
    float("inf"),
    float("-inf"),
    float("nan"),
    0,
    -1,
    1e-300,
    2**63,
    10**400,
    "99999999999d",
    "1000000000000s",
    "9223372036854775808",
    "0.0001ms",
    "",
    " ",
    "pc\n",
    "a\x00b",
    "gerai\u2028",
    "Ä" * 300,
    "<script>alert(1)</script>",
    "{n}",
    "{n+99999999999}",
    "{n-1}",
    "1-99999",
    "99999-1",
    "http://",
    "https://[::1",
    "http://user:pw@example.id/",
    "10.0.0.999",
    "::ffff:999.1.1.1",
    "tcp:0",
    "tcp:99999",
    "Asia/../etc",
    "WITA",
    "XX",
    "24:00",
    "25:61",
    "2026-02-30",
    dt.date(1, 1, 1),
    dt.datetime(9999, 12, 31, 23, 59),
    dt.datetime(1, 1, 1, 0, 0),
    True,
    None,
    [],
    {},
    [None],
    {"env": "X"},
    {"file": "/dev/zero"},
    _deep(70),
]

scalars = st.one_of(
    st.sampled_from(HOSTILE),
    st.integers(),
    st.floats(),
    st.text(max_size=40),
    st.sampled_from([_at(BASE, p) for p in PATHS if not isinstance(_at(BASE, p), dict | list)]),
)


# what the example itself writes under each key: a plausible value in another place
BY_KEY: dict[Any, list[Any]] = {}
for _path in PATHS:
    BY_KEY.setdefault(_path[-1], []).append(_at(BASE, _path))


def _values_for(key: Any) -> st.SearchStrategy[Any]:
    """Half the time a value the example writes under the same key, else anything."""
    same = BY_KEY.get(key) if isinstance(key, str) else None
    return st.one_of(st.sampled_from(same), scalars) if same else scalars


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A mutated copy of the example, as YAML text."""
    data = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        try:
            parent = _at(data, path[:-1])
            key = path[-1]
            _ = parent[key]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced it
        action = draw(st.sampled_from(["replace", "replace", "replace", "drop", "double", "add"]))
        if action == "replace":
            parent[key] = copy.deepcopy(draw(_values_for(key)))
        elif action == "drop":
            del parent[key]
        elif action == "double" and isinstance(parent, list):
            parent.insert(key, copy.deepcopy(parent[key]))
        elif action == "add" and isinstance(parent[key], dict):
            parent[key][draw(st.sampled_from(["intervall", "id", "name", "x" * 70]))] = draw(
                scalars
            )
    out = io.StringIO()
    YAML(typ="safe", pure=True).dump(data, out)
    text = out.getvalue()
    if draw(st.integers(0, 7)) == 0:  # now and then, damage the text itself
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 40))
        junk = draw(st.text(alphabet="[]{}:,-&*!|>'\"#%@`\t\n xy09.", max_size=12))
        text = text[:at] + junk + text[at + cut :]
    return text


async def _no_probe(target: Any, settings: Any, ctx: ProbeContext) -> ProbeResult:
    raise AssertionError("the fuzz test builds the service; it never probes")


_ERROR_LINE = re.compile(r"^(?P<file>[^:]+)(:\d+:\d+)?: \S")


def _check_one(text: str, tmp: Path) -> int:
    """Run check-config on text; for an accepted file build and install a service from it."""
    path = tmp / "inventory.yaml"
    path.write_text(text, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = check_config.run(argparse.Namespace(file=str(path)))
    assert status in (0, 1)
    if currently_in_test_context():
        event("accepted" if status == 0 else "rejected")  # --hypothesis-show-statistics
    if status == 1:
        lines = err.getvalue().splitlines()
        assert lines and re.fullmatch(
            rf"\d+ errors? in {re.escape(str(path))}: nothing loaded", lines[-1]
        )
        for line in lines[:-1]:
            m = _ERROR_LINE.match(line)
            assert m and m.group("file") == str(path), line
        return status
    assert out.getvalue().startswith(f"{path}: OK\n")
    # accepted: a service can be built and started from it (its probes never run here)
    plan = load_config(path).plan
    service = Service(
        probes={kind: _no_probe for kind in ("icmp", "tcp", "http", "dns")},
        maintenance_for=maintenance_for,
        routing_for=notifier_routing,
        down_after=plan.down_after,
        up_after=plan.up_after,
    )
    service.prepare(plan)()  # raises PlanRejected if a stage cannot build it
    service.plan = plan
    snapshot = service.snapshot()
    render_page(snapshot, plan)
    status_json(snapshot, plan)
    metrics = service.renderer.render().decode()
    assert metrics.count("\nmpp_probe_runs_total{") == len(plan.targets)
    service.renderer.close()
    return status


_COMMON = settings(
    database=None,
    deadline=dt.timedelta(seconds=5),  # the bound for one check-config
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@settings(_COMMON, max_examples=15)
@given(text=mutated())
def test_a_few_mutations_are_judged_cleanly(text: str, tmp_path: Path) -> None:
    _check_one(text, tmp_path)


@pytest.mark.slow
@settings(_COMMON, max_examples=200)
@given(text=mutated())
def test_200_mutations_are_judged_cleanly_and_accepted_ones_run(text: str, tmp_path: Path) -> None:
    _check_one(text, tmp_path)


def test_the_unmutated_example_builds_a_service(tmp_path: Path) -> None:
    out = io.StringIO()
    YAML(typ="safe", pure=True).dump(copy.deepcopy(BASE), out)
    assert _check_one(out.getvalue(), tmp_path) == 0
