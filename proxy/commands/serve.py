"""`v1proxy serve --config FILE`: run the proxy."""

from __future__ import annotations

import argparse
import sys

from aiohttp import web

from proxy import logs
from proxy.app import create_app
from proxy.settings import SettingsError, config_path, load_settings

HELP = "run the proxy (config from --config or $V1PROXY_CONFIG)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML configuration (default: $V1PROXY_CONFIG)")


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(config_path(args.config))
    except SettingsError as exc:
        print("v1proxy: configuration refused:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    logs.configure(settings.logging.format, settings.logging.level)
    listen = settings.listen
    web.run_app(
        create_app(settings),
        host=listen.host,
        port=listen.port,
        print=lambda _: print(f"v1proxy listening on http://{listen.host}:{listen.port}", flush=True),
        access_log=None,
    )
    return 0
