"""`v1proxy legacy-emulator`: run the local legacy v1 face service until SIGINT/SIGTERM; --state saved at exit."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from proxy import eventloop
from proxy.legacy.app import LegacyApp, LegacyConfig, start_legacy
from proxy.legacy.runtime import MAX_BODY_BYTES

HELP = "Run a local emulator of the retired Tencent face API v1 (the backend a staged migration starts from)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9010, help="0 picks a free port")
    parser.add_argument("--appid", action="append", default=[], help="repeatable; with --secret-id and --secret-key")
    parser.add_argument("--secret-id", action="append", default=[], help="repeatable; pairs with --appid")
    parser.add_argument("--secret-key", action="append", default=[], help="repeatable; pairs with --appid")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every request")
    parser.add_argument("--state", type=Path, default=None, help="keep state in this JSON file across restarts")
    parser.add_argument("--seed", type=int, default=0, help="face ids and score noise")
    parser.add_argument("--max-body-bytes", type=int, default=MAX_BODY_BYTES, help="larger bodies: v1 code 23")


def config_from_args(args: argparse.Namespace) -> LegacyConfig:
    appids, ids, keys = list(args.appid), list(args.secret_id), list(args.secret_key)
    if not appids:
        raise ValueError("give at least one --appid with its --secret-id and --secret-key")
    if not len(appids) == len(ids) == len(keys):
        raise ValueError("give --appid, --secret-id and --secret-key in sets (the same number of each)")
    apps = tuple(LegacyApp(a, i, k) for a, i, k in zip(appids, ids, keys, strict=True))
    return LegacyConfig(
        apps=apps,
        latency_ms=args.latency_ms,
        state_file=args.state,
        seed=args.seed,
        max_body_bytes=args.max_body_bytes,
    )


async def _serve(config: LegacyConfig, host: str, port: int) -> None:
    running = await start_legacy(config, host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"legacy emulator listening on {running.url}", flush=True)
    try:
        await stop.wait()
    finally:
        await running.close()


def run(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"v1proxy legacy-emulator: {exc}", file=sys.stderr)
        return 2
    eventloop.run(_serve(config, args.host, args.port))
    return 0
