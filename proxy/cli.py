"""The one command, `v1proxy`: a table from subcommand to the module that runs it."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Protocol, cast


class Subcommand(Protocol):
    """What a subcommand module provides."""

    HELP: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


# Subcommand name -> module implementing `Subcommand`. Imported lazily so that
# `v1proxy faces` does not pay for the proxy, nor `serve` for the emulator.
SUBCOMMANDS: dict[str, str] = {
    "serve": "proxy.commands.serve",
    "demo": "proxy.commands.demo",
    "check-config": "proxy.commands.check_config",
    "migrate-store": "proxy.commands.migrate_store",
    "emulator": "proxy.emulator.command",
    "legacy-emulator": "proxy.commands.legacy_emulator",
    "faces": "proxy.emulator.faces_command",
    "report": "proxy.commands.report",
    "calibrate": "proxy.commands.calibrate",
    "backfill": "proxy.commands.backfill",
}


def build_parser(names: Sequence[str] = tuple(SUBCOMMANDS)) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="v1proxy", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in names:
        module = cast(Subcommand, importlib.import_module(SUBCOMMANDS[name]))
        sub_parser = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub_parser)
        sub_parser.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Only import the chosen subcommand's module (and keep `--help` listing all).
    chosen = [argv[0]] if argv and argv[0] in SUBCOMMANDS else list(SUBCOMMANDS)
    args = build_parser(chosen).parse_args(argv)
    module = cast(Subcommand, args._module)
    return module.run(args)
