"""Assemble the migration report from the configuration and the comparison ledger; its JSON form."""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

from proxy.migration.ledger import Ledger
from proxy.report.model import OutboxState, OwnScores, Readiness, Report, build_rows, build_scatters
from proxy.settings import CalibrationSpec, Settings
from proxy.translate.scores import calibration_from_config

DISAGREEMENTS_SHOWN = 50


def calibration_name(spec: CalibrationSpec) -> str:
    return spec if isinstance(spec, str) else f"{len(spec)} configured points"


def own_scores(settings: Settings) -> tuple[OwnScores, ...]:
    """The tenants of scores.tenants with the curve and threshold in force for each."""
    out = []
    for tenant in sorted(settings.scores.tenants):
        spec, threshold = settings.scores.of(tenant)
        out.append(OwnScores(tenant, calibration_name(spec), threshold))
    return tuple(out)


def readiness_of(settings: Settings) -> Readiness:
    return Readiness(settings.shadow.ready_agreement_percent / 100, settings.shadow.ready_min_comparisons)


async def build_report(
    settings: Settings, ledger: Ledger, outbox: OutboxState | None = None, now: float | None = None
) -> Report:
    """Everything the page and the JSON show, read once from the ledger."""
    spec = settings.scores.calibration
    current = calibration_from_config(spec, settings.scores.match_threshold)
    readiness = readiness_of(settings)
    return Report(
        generated_at=time.time() if now is None else now,
        readiness=readiness,
        match_threshold=settings.scores.match_threshold,
        calibration_name=calibration_name(spec),
        rows=build_rows(await ledger.tallies(), await ledger.latencies(), readiness),
        scatters=build_scatters(await ledger.score_pairs(), current.points),
        disagreements=tuple(await ledger.disagreements(DISAGREEMENTS_SHOWN)),
        outbox=outbox,
        tenant_scores=own_scores(settings),
    )


def _plain(value: Any) -> Any:
    """JSON-safe: infinities become null (an open-ended latency bucket), enums their value."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def report_json(report: Report) -> dict[str, Any]:
    """The report for machines: the same figures as the page."""
    data = dataclasses.asdict(report)
    data["ready_count"] = report.ready_count
    for row, plain in zip(report.rows, data["rows"], strict=True):
        plain["v3"]["disagreed"] = row.v3.compared - row.v3.agreed
        plain["noise"]["disagreed"] = row.noise.compared - row.noise.agreed
        plain["latency_ms"] = [
            {"side": side, "p50": p50, "p95": p95, "count": n} for side, p50, p95, n in row.latency_ms
        ]
    for d, plain in zip(report.disagreements, data["disagreements"], strict=True):
        plain["against"] = d.against.value
    return {"report": "v1proxy migration", **_plain(data)}
