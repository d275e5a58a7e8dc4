"""`v1proxy calibrate`: fit a monotone v3 -> v1 score calibration from the shadow's stored score pairs."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from proxy.app import open_configured_store
from proxy.calibrate.fit import MIN_PAIRS
from proxy.calibrate.points_file import render_points_file
from proxy.calibrate.run import Fitted, TenantVsRest, fit_from_pairs, tenant_against_rest
from proxy.migration.compare import SCORED_OPS
from proxy.migration.ledger import StoredPair
from proxy.migration.ledger_open import open_ledger
from proxy.settings import Settings, SettingsError, config_path, load_settings
from proxy.translate.scores import Calibration, calibration_from_config

HELP = "fit a score calibration from stored shadow score pairs and write it as a scores: section"
TENANTS_DIFFER = 0.01  # a tenant's own fit beating the pooled one by more than this on its held-out pairs
APPLY_GLOBAL = (
    "apply: replace the scores: section of the configuration with this one, then reload (SIGHUP or POST /reload)"
)
APPLY_TENANT = (
    "apply: put this tenants: entry under scores: in the configuration (this tenant's own curve; the global "
    "scores.calibration stays for the others), then reload (SIGHUP or POST /reload)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="the proxy's YAML configuration (default: $V1PROXY_CONFIG)")
    parser.add_argument(
        "--tenant", metavar="APPID", help="fit this tenant's pairs and write its own curve (default: all tenants)"
    )
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


def _verdict(tenant: str, result: TenantVsRest) -> str:
    """Whether the tenant's own curve beats one pooled with every other tenant's pairs, on its held-out pairs."""
    if result.gain is None or result.pooled_agreement is None:
        return f"tenant {tenant}: no other tenant's pairs to compare with (its own fit is the only one)"
    verdict = "differs: fit it alone (--tenant)" if result.gain > TENANTS_DIFFER else "close to the pooled fit"
    return (
        f"tenant {tenant}: own fit {result.own.agreement_after:.4f} vs pooled {result.pooled_agreement:.4f} "
        f"(its fit pairs + {result.rest_pairs} of other tenants) on its held-out pairs ({verdict})"
    )


def _in_force(settings: Settings, tenant: str | None) -> Calibration:
    """The curve and threshold in force for a tenant (its own under scores.tenants, else the global ones)."""
    spec, threshold = settings.scores.of(tenant)
    return calibration_from_config(spec, threshold)


def _per_tenant(pairs: list[StoredPair], settings: Settings, held: float) -> list[str]:
    """For each tenant with enough pairs: does its own fit beat the pooled one on its held-out pairs?"""
    lines = []
    for tenant in sorted({p.tenant for p in pairs}):
        own = [p for p in pairs if p.tenant == tenant]
        if len(own) >= MIN_PAIRS:
            rest = [p for p in pairs if p.tenant != tenant]
            lines.append(_verdict(tenant, tenant_against_rest(own, rest, _in_force(settings, tenant), held)))
    return lines


async def _pairs(settings: Settings, op: str | None) -> list[StoredPair]:
    store = await open_configured_store(settings)  # migrates: the ledger's tables exist from here on
    await store.close()
    ledger = await open_ledger(settings)
    try:
        return await ledger.score_pairs(None, op)
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
    if args.tenant is not None and args.tenant not in {t.appid for t in settings.tenants}:
        print(f"calibrate: --tenant {args.tenant} is not a tenant of the configuration", file=sys.stderr)
        return 2
    spec = settings.scores.of(args.tenant)[0]
    current = _in_force(settings, args.tenant)  # the tenant's curve and threshold: the ones its answers use
    current_name = spec if isinstance(spec, str) else "the configured points"
    try:
        pairs = [p for p in asyncio.run(_pairs(settings, args.op)) if p.op in SCORED_OPS]
    except ValueError as exc:
        print(f"calibrate: {exc}", file=sys.stderr)
        return 2
    scope = f"tenant {args.tenant or 'all'}, op {args.op or 'verify+compare+identify'}"
    try:
        if args.tenant is None:
            fitted = fit_from_pairs(pairs, current, args.held_out)
            extra = _per_tenant(pairs, settings, args.held_out)
        else:
            own = [p for p in pairs if p.tenant == args.tenant]
            rest = [p for p in pairs if p.tenant != args.tenant]
            against = tenant_against_rest(own, rest, current, args.held_out)
            fitted, extra = against.own, [_verdict(args.tenant, against)]
    except ValueError as exc:
        print(f"calibrate: {scope}: {exc}", file=sys.stderr)
        return 1
    notes = [
        "fitted by v1proxy calibrate (pool-adjacent-violators, raw v3 Score -> v1 score)",
        _figures(scope, fitted, current_name),
        *extra,
        APPLY_GLOBAL if args.tenant is None else APPLY_TENANT,
    ]
    text = render_points_file(fitted.points, fitted.match_threshold, notes, tenant=args.tenant)
    Path(args.out).write_text(text, encoding="utf-8")
    for note in notes[1:]:
        print(note)
    print(f"wrote {len(fitted.points)} points to {args.out}")
    if not fitted.improves:
        print("calibrate: the fitted calibration does not beat the one in force on held-out pairs", file=sys.stderr)
    return 0
