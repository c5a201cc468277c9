"""The `mpp-monitor` command line: one sub-command per module in `monitor.commands`."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

# (command name, module). Each module defines HELP (one line), EXAMPLES (text),
# configure(parser) and run(args) -> int exit status.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("check-config", "monitor.commands.check_config"),
    ("targets", "monitor.commands.targets"),
    ("probe", "monitor.commands.probe"),
    ("run", "monitor.commands.run"),
    ("notify", "monitor.commands.notify"),
    ("notify-test", "monitor.commands.notify_test"),
    ("simulate", "monitor.commands.simulate"),
    ("demo", "monitor.commands.demo"),
    ("render", "monitor.commands.render"),
    ("report", "monitor.commands.report"),
    ("sites", "monitor.commands.sites"),
    ("install", "monitor.commands.install"),
)


def _load(module: str) -> ModuleType | None:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:  # not written yet; other import errors are real bugs
            return None
        raise


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every available sub-command."""
    parser = argparse.ArgumentParser(
        prog="mpp-monitor",
        description=(
            "Monitor a Mal Pelayanan Publik: internet uplinks, LAN, counter devices and "
            "agency applications, with alerts to the team that owns each fault."
        ),
        epilog="Example: mpp-monitor check-config examples/mpp-paser.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from monitor import __version__

    parser.add_argument("--version", action="version", version=f"mpp-monitor {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS:
        module = _load(module_name)
        if module is None:
            continue
        p = sub.add_parser(
            name,
            help=module.HELP,
            description=module.HELP,
            epilog="Examples:\n" + module.EXAMPLES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.configure(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        status: int = args._run(args)
    except KeyboardInterrupt:
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
