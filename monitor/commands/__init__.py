"""CLI sub-commands: each module has HELP, EXAMPLES, configure() and run()."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monitor.inventory import Loaded


def load_config_or_report(path: str) -> Loaded | None:
    """Load and expand an inventory; on errors print every one to stderr and return None."""
    from monitor.inventory import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        for err in exc.errors:
            print(err, file=sys.stderr)
        return None
