"""Rendered configuration files are YAML with a header comment."""

from __future__ import annotations

from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.compat import StringIO


def dump(data: Any, header: str) -> str:
    """YAML text of data, after a header comment."""
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 120
    buf = StringIO()
    yaml.dump(data, buf)
    return header + buf.getvalue()
