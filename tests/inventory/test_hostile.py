"""Hostile files too big to keep as data: refused with one line before YAML parsing costs much.

The small hostile cases (deep nesting, control characters, unbounded durations and counts) are
data files in invalid/ (test_invalid.py); these are generated in a temporary directory.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.inventory import ConfigError, load_plan
from monitor.inventory.load import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES, parse_yaml


def _refused(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_plan(path)
    return [str(e) for e in info.value.errors]


def test_a_16_mb_file_is_refused_without_parsing(tmp_path: Path) -> None:
    path = tmp_path / "besar.yaml"
    with path.open("w", encoding="utf-8") as f:
        f.write("sites: [")
        f.write("1," * 8_000_000)
        f.write("1]\n")
    assert path.stat().st_size == 16_000_011  # 16 MB: 15.3 MiB
    assert _refused(path) == [
        f"{path}: the file is 15.3 MiB: over the 4 MiB limit (docs/config.md), not read"
    ]


def test_a_file_just_over_the_limit_is_refused_and_one_at_it_is_parsed(tmp_path: Path) -> None:
    at = tmp_path / "pas.yaml"
    at.write_text("sites: []\n" + "#" * (MAX_FILE_BYTES - 11) + "\n", encoding="utf-8")
    assert at.stat().st_size == MAX_FILE_BYTES
    assert _refused(at) == [f"{at}:1:8: sites: must not be empty"]
    over = tmp_path / "lebih.yaml"
    over.write_bytes(at.read_bytes() + b"\n")
    assert _refused(over) == [
        f"{over}: the file is 4.0 MiB: over the 4 MiB limit (docs/config.md), not read"
    ]


def test_an_endless_file_is_refused(tmp_path: Path) -> None:
    # /dev/zero never ends: only the first 4 MiB + 1 bytes are read
    assert _refused(Path("/dev/zero")) == [
        "/dev/zero: the file is 4.0 MiB: over the 4 MiB limit (docs/config.md), not read"
    ]


def test_text_handed_in_directly_has_the_same_limit() -> None:
    with pytest.raises(ConfigError) as info:
        parse_yaml("#" * (MAX_FILE_BYTES + 1), "inventory.yaml")
    assert str(info.value).startswith("inventory.yaml: the file is 4.0 MiB: over the 4 MiB")


def test_a_file_of_tiny_nodes_stops_at_the_node_limit(tmp_path: Path) -> None:
    path = tmp_path / "kecil.yaml"
    path.write_text("sites: [" + "1," * 1_500_000 + "1]\n", encoding="utf-8")
    # the top mapping, the key "sites" and the list are nodes 1-3; item k (from 0) is k + 4
    col = len("sites: [") + 2 * (MAX_NODES + 1 - 4) + 1
    assert _refused(path) == [
        f"{path}:1:{col}: more than {MAX_NODES} keys and values: over the limit "
        "(docs/config.md), not loaded"
    ]


def _nested(depth: int) -> str:
    """A mapping holding lists nested so that the file is ``depth`` levels deep in all."""
    return "sites: " + "[" * (depth - 1) + "]" * (depth - 1) + "\n"


def test_nesting_at_the_limit_parses() -> None:
    doc = parse_yaml(_nested(MAX_DEPTH), "dalam.yaml")
    inner = doc.data["sites"]
    for _ in range(MAX_DEPTH - 2):
        inner = inner[0]
    assert inner == []


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5000])
def test_nesting_over_the_limit_is_one_positioned_line(depth: int) -> None:
    with pytest.raises(ConfigError) as info:
        parse_yaml(_nested(depth), "dalam.yaml")
    assert str(info.value) == (
        f"dalam.yaml:1:{8 + MAX_DEPTH - 1}: nested more than {MAX_DEPTH} levels deep: "
        "over the limit (docs/config.md), not loaded"
    )
