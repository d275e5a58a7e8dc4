"""`v1proxy check-config FILE`: validate and compile a configuration, naming every problem that would stop serve."""

from __future__ import annotations

import argparse
import sys

from proxy.config import load_compiled
from proxy.settings import SettingsError

HELP = "validate a configuration file: every problem that would stop serve, as path, expected, got"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="the YAML configuration to check")


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_compiled(args.file).settings  # the same step serve and reload take
    except SettingsError as exc:
        print(f"{args.file}: {len(exc.problems)} problem(s)", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(
        f"{args.file}: OK ({len(settings.tenants)} tenant(s), upstream {settings.upstream.endpoint}, "
        f"listening on {settings.listen.host}:{settings.listen.port})"
    )
    return 0
