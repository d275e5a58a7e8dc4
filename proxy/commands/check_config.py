"""`v1proxy check-config FILE`: validate a configuration and say exactly what is wrong."""

from __future__ import annotations

import argparse
import sys

from proxy.settings import SettingsError, load_settings

HELP = "validate a configuration file: every problem as path, expected, got"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="the YAML configuration to check")


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.file)
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
