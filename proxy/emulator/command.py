"""`v1proxy emulator`: run the local IAI v3 emulator until SIGINT/SIGTERM, saving --state on the way out."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from proxy import eventloop
from proxy.emulator.app import EmulatorConfig, start_emulator
from proxy.emulator.faults import FaultConfig

HELP = "Run a local emulator of Tencent Cloud IAI v3 (2020-03-03) for tests, demos and benchmarks."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000, help="0 picks a free port")
    parser.add_argument("--secret-id", action="append", default=[], help="repeatable; pairs with --secret-key")
    parser.add_argument("--secret-key", action="append", default=[], help="repeatable; pairs with --secret-id")
    parser.add_argument("--state", type=Path, default=None, help="keep state in this JSON file across restarts")
    parser.add_argument("--save-interval", type=float, default=0.0, help="also save --state every N seconds")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every request")
    parser.add_argument("--jitter-ms", type=float, default=0.0, help="random extra latency, up to N ms")
    parser.add_argument("--qps-limit", type=float, default=0.0, help="above it: RequestLimitExceeded")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share answered InternalError")
    parser.add_argument("--timeout-rate", type=float, default=0.0, help="share answered RequestTimeout")
    parser.add_argument("--drop-rate", type=float, default=0.0, help="share of connections closed unanswered")
    parser.add_argument("--malformed-rate", type=float, default=0.0, help="share answered with non-JSON")
    parser.add_argument("--seed", type=int, default=None, help="makes faults and FaceIds reproducible")


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    ids, keys = list(args.secret_id), list(args.secret_key)
    if len(ids) != len(keys):
        raise ValueError("give --secret-id and --secret-key in pairs")
    faults = FaultConfig(
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        qps_limit=args.qps_limit,
        internal_error_rate=args.error_rate,
        timeout_rate=args.timeout_rate,
        drop_rate=args.drop_rate,
        malformed_rate=args.malformed_rate,
        seed=args.seed,
    )
    base = EmulatorConfig()
    return EmulatorConfig(
        credentials=tuple(zip(ids, keys, strict=True)) or base.credentials,
        faults=faults,
        state_file=args.state,
        save_interval_s=args.save_interval,
        seed=args.seed,
    )


async def _serve(config: EmulatorConfig, host: str, port: int) -> None:
    running = await start_emulator(config, host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"emulator listening on {running.url}", flush=True)
    try:
        await stop.wait()
    finally:
        await running.close()


def run(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"v1proxy emulator: {exc}", file=sys.stderr)
        return 2
    eventloop.run(_serve(config, args.host, args.port))
    return 0
