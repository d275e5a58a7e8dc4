"""`v1proxy report`: the migration report (agreement, verdicts, scores, noise, latency) as HTML or JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

from proxy.app import open_configured_store
from proxy.migration.ledger_open import open_ledger
from proxy.report.build import build_report, report_json
from proxy.report.html import render_html
from proxy.report.model import OutboxState, Report
from proxy.settings import Settings, SettingsError, config_path, load_settings

HELP = "write the migration report: one self-contained HTML page (or --format json)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="the proxy's YAML configuration (default: $V1PROXY_CONFIG)")
    parser.add_argument("--out", required=True, help="the file to write (report.html, report.json)")
    parser.add_argument("--format", choices=("html", "json"), default="html")


async def _build(settings: Settings) -> Report:
    store = await open_configured_store(settings)  # migrates: the ledger's tables exist from here on
    try:
        stats = await store.journal_stats("outbox", now=time.time())
    finally:
        await store.close()
    outbox = OutboxState(tuple(stats.counts.items()), stats.oldest_open_age_s)
    ledger = await open_ledger(settings)
    try:
        return await build_report(settings, ledger, outbox)
    finally:
        await ledger.close()


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(config_path(args.config))
    except SettingsError as exc:
        print(f"report: configuration refused:\n{exc}", file=sys.stderr)
        return 2
    try:
        report = asyncio.run(_build(settings))
    except ValueError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        text = json.dumps(report_json(report), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    else:
        text = render_html(report)
    Path(args.out).write_text(text, encoding="utf-8")
    print(
        f"wrote {args.out}: {len(report.rows)} tenant × op row(s), {report.ready_count} ready for canary, "
        f"{len(report.disagreements)} disagreement(s) shown"
    )
    return 0
