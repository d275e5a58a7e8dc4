"""`v1proxy calibrate`: fit a monotone v3 -> v1 score calibration from the shadow's stored score pairs."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from proxy.app import open_configured_store
from proxy.calibrate.fit import MIN_PAIRS
from proxy.calibrate.points_file import render_points_file
from proxy.calibrate.run import Fitted, fit_from_pairs
from proxy.migration.compare import SCORED_OPS
from proxy.migration.ledger import StoredPair
from proxy.migration.ledger_open import open_ledger
from proxy.settings import Settings, SettingsError, config_path, load_settings
from proxy.translate.scores import Calibration, calibration_from_config

HELP = "fit a score calibration from stored shadow score pairs and write it as a scores: section"
TENANTS_DIFFER = 0.01  # a tenant's own fit beating the pooled one by more than this on its held-out pairs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="the proxy's YAML configuration (default: $V1PROXY_CONFIG)")
    parser.add_argument("--tenant", metavar="APPID", help="only this tenant's pairs (default: all tenants)")
    parser.add_argument("--op", choices=SCORED_OPS, help="only this op's pairs (default: verify, compare, identify)")
    parser.add_argument("--out", required=True, help="where to write the points (YAML, a scores: section)")
    parser.add_argument(
        "--held-out", type=float, default=0.3, help="share of pairs held out for validation (default 0.3)"
    )


def _figures(label: str, fitted: Fitted, current_name: str) -> str:
    return (
        f"{label}: {fitted.pairs} pairs (fit {fitted.fit_pairs}, held out {fitted.held_pairs}); decision agreement "
        f"at threshold {fitted.match_threshold:g} on held-out pairs: {fitted.agreement_before:.4f} with "
        f"{current_name} -> {fitted.agreement_after:.4f} fitted"
    )


def _per_tenant(pairs: list[StoredPair], pooled: Fitted, current: Calibration, held: float) -> list[str]:
    """Lines saying which tenants' own fits beat the pooled one on their own held-out pairs."""
    lines = []
    for tenant in sorted({p.tenant for p in pairs}):
        own = [p for p in pairs if p.tenant == tenant]
        if len(own) < MIN_PAIRS:
            continue
        mine = fit_from_pairs(own, current, held)
        pooled_on_mine = fit_from_pairs(own, Calibration(pooled.points, current.match_threshold), held)
        gain = mine.agreement_after - pooled_on_mine.agreement_before
        verdict = "differs: fit it alone (--tenant)" if gain > TENANTS_DIFFER else "close to the pooled fit"
        lines.append(
            f"tenant {tenant}: own fit {mine.agreement_after:.4f} vs pooled {pooled_on_mine.agreement_before:.4f} "
            f"on its held-out pairs ({verdict})"
        )
    return lines


async def _pairs(settings: Settings, tenant: str | None, op: str | None) -> list[StoredPair]:
    store = await open_configured_store(settings)  # migrates: the ledger's tables exist from here on
    await store.close()
    ledger = await open_ledger(settings)
    try:
        return await ledger.score_pairs(tenant, op)
    finally:
        await ledger.close()


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(config_path(args.config))
    except SettingsError as exc:
        print(f"calibrate: configuration refused:\n{exc}", file=sys.stderr)
        return 2
    if not 0.05 <= args.held_out <= 0.9:
        print("calibrate: --held-out must be within [0.05, 0.9]", file=sys.stderr)
        return 2
    spec = settings.scores.calibration
    current = calibration_from_config(spec, settings.scores.match_threshold)
    current_name = spec if isinstance(spec, str) else "the configured points"
    try:
        pairs = [p for p in asyncio.run(_pairs(settings, args.tenant, args.op)) if p.op in SCORED_OPS]
    except ValueError as exc:
        print(f"calibrate: {exc}", file=sys.stderr)
        return 2
    scope = f"tenant {args.tenant or 'all'}, op {args.op or 'verify+compare+identify'}"
    try:
        fitted = fit_from_pairs(pairs, current, args.held_out)
    except ValueError as exc:
        print(f"calibrate: {scope}: {exc}", file=sys.stderr)
        return 1
    notes = [
        "fitted by v1proxy calibrate (pool-adjacent-violators, raw v3 Score -> v1 score)",
        _figures(scope, fitted, current_name),
        "apply: replace the scores: section of the configuration with this one, then reload (SIGHUP or POST /reload)",
    ]
    if args.tenant is None:
        notes += _per_tenant(pairs, fitted, current, args.held_out)
    Path(args.out).write_text(render_points_file(fitted.points, fitted.match_threshold, notes), encoding="utf-8")
    for note in notes[1:]:
        print(note)
    print(f"wrote {len(fitted.points)} points to {args.out}")
    if not fitted.improves:
        print("calibrate: the fitted calibration does not beat the one in force on held-out pairs", file=sys.stderr)
    return 0
