"""`v1proxy migrate-store --config FILE`: bring the configured store's schema to this version, then exit."""

from __future__ import annotations

import argparse
import asyncio
import sys

from proxy.app import open_configured_store
from proxy.settings import Settings, SettingsError, config_path, load_settings
from proxy.store import StoreError
from proxy.store.schema import MIGRATIONS, SCHEMA_VERSION

HELP = "create or upgrade the store's schema (also done at start); run it ahead of a rollout"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML configuration (default: $V1PROXY_CONFIG)")


async def _migrate(settings: Settings) -> None:
    store = await open_configured_store(settings)  # opening migrates, under the backend's lock
    await store.close()


def run(args: argparse.Namespace) -> int:
    try:
        path = config_path(args.config)
        settings = load_settings(path)
    except SettingsError as exc:
        print(f"{len(exc.problems)} problem(s) in the configuration", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    try:
        asyncio.run(_migrate(settings))
    except (StoreError, ValueError) as exc:
        print(f"migrate-store: {exc}", file=sys.stderr)
        return 1
    steps = "; ".join(f"{n + 1}: {m.name}" for n, m in enumerate(MIGRATIONS))
    print(f"store schema at version {SCHEMA_VERSION} ({steps})")
    return 0
