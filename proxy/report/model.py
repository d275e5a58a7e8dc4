"""What the migration report says, computed from the ledger and the configuration (no rendering here)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from proxy.calibrate.fit import MIN_PAIRS, Point, fit_points
from proxy.migration.ledger import Against, Disagreement, LatencyHistogram, StoredPair, Tally
from proxy.report.stats import wilson

SCATTER_POINTS = 1500  # at most this many dots per scatter (the latest pairs), so the page stays light


@dataclass(frozen=True, slots=True)
class Readiness:
    """When an op is ready for canary: agreement (a share, 0.995) over at least this many comparisons."""

    min_agreement: float = 0.995
    min_comparisons: int = 1000


@dataclass(frozen=True, slots=True)
class Agreement:
    """compared / agreed with the 95 % Wilson interval of the agreement rate."""

    compared: int
    agreed: int
    rate: float | None
    low: float
    high: float
    by_kind: tuple[tuple[str, int], ...]

    @classmethod
    def of(cls, tally: Tally | None) -> Agreement:
        if tally is None:
            return cls(0, 0, None, 0.0, 1.0, ())
        low, high = wilson(tally.agreed, tally.compared)
        rate = tally.agreed / tally.compared if tally.compared else None
        return cls(tally.compared, tally.agreed, rate, low, high, tally.by_kind)


@dataclass(frozen=True, slots=True)
class OpRow:
    """One tenant × op: v1 vs v3, v1 vs itself (noise), the verdict and both sides' latency."""

    tenant: str
    op: str
    v3: Agreement
    noise: Agreement
    ready: bool
    verdict: str
    latency_ms: tuple[tuple[str, float | None, float | None, int], ...]  # side, p50, p95, count


@dataclass(frozen=True, slots=True)
class Scatter:
    """Score pairs of one op (all tenants), the curve in force and the one fitted from the pairs."""

    op: str
    pairs: int
    dots: tuple[tuple[float, float], ...]  # (v3 raw, v1)
    current: tuple[Point, ...]
    fitted: tuple[Point, ...] | None


@dataclass(frozen=True, slots=True)
class OutboxState:
    """Dual writes owed to the other backend, from the store's write journal: entries by state, oldest open."""

    counts: tuple[tuple[str, int], ...]  # pending / unknown (open), applied / failed (final, until pruned)
    oldest_open_age_s: float | None

    @property
    def open(self) -> int:
        return sum(n for state, n in self.counts if state in ("pending", "unknown"))


@dataclass(frozen=True, slots=True)
class OwnScores:
    """A tenant with its own scores (scores.tenants): the curve and threshold its answers and comparisons use."""

    tenant: str
    calibration: str
    match_threshold: float


@dataclass(frozen=True, slots=True)
class Report:
    generated_at: float
    readiness: Readiness
    match_threshold: float
    calibration_name: str
    rows: tuple[OpRow, ...]
    scatters: tuple[Scatter, ...]
    disagreements: tuple[Disagreement, ...]
    outbox: OutboxState | None
    tenant_scores: tuple[OwnScores, ...] = ()  # tenants judged at their own threshold, not match_threshold

    @property
    def ready_count(self) -> int:
        return sum(1 for r in self.rows if r.ready)


def verdict(v3: Agreement, noise: Agreement, readiness: Readiness) -> tuple[bool, str]:
    """("ready for canary", True) or what blocks it, in words."""
    blockers = []
    if v3.compared < readiness.min_comparisons:
        blockers.append(f"{readiness.min_comparisons - v3.compared:,} more comparisons needed")
    if v3.rate is None or v3.rate < readiness.min_agreement:
        shown = "no comparisons yet" if v3.rate is None else f"agreement {v3.rate:.2%}"
        blockers.append(f"{shown} < {readiness.min_agreement:.2%}")
        if v3.rate is not None and noise.rate is not None and noise.compared and 1 - noise.rate >= 1 - v3.rate:
            blockers.append(f"v1 disagrees with itself as often ({1 - noise.rate:.2%}): the gap is noise")
    if blockers:
        return False, "; ".join(blockers)
    return True, "ready for canary"


def _latency(
    hists: Sequence[LatencyHistogram], tenant: str, op: str
) -> tuple[tuple[str, float | None, float | None, int], ...]:
    out = []
    for side in ("v1", "v3", "v1-replay"):
        h = next((h for h in hists if (h.tenant, h.op, h.side) == (tenant, op, side)), None)
        if h is not None:
            out.append((side, h.quantile(0.5), h.quantile(0.95), h.total))
    return tuple(out)


def build_rows(tallies: Sequence[Tally], hists: Sequence[LatencyHistogram], readiness: Readiness) -> tuple[OpRow, ...]:
    keys = sorted({(t.tenant, t.op) for t in tallies})
    index = {(t.tenant, t.op, t.against): t for t in tallies}
    rows = []
    for tenant, op in keys:
        v3 = Agreement.of(index.get((tenant, op, Against.V3)))
        noise = Agreement.of(index.get((tenant, op, Against.V1)))
        ready, says = verdict(v3, noise, readiness)
        rows.append(OpRow(tenant, op, v3, noise, ready, says, _latency(hists, tenant, op)))
    return tuple(rows)


def build_scatters(pairs: Sequence[StoredPair], current: tuple[Point, ...]) -> tuple[Scatter, ...]:
    out = []
    for op in sorted({p.op for p in pairs}):
        mine = [p for p in pairs if p.op == op]
        v1, v3 = [p.v1 for p in mine], [p.v3 for p in mine]
        fitted = fit_points(v1, v3) if len(mine) >= MIN_PAIRS else None
        dots = tuple((p.v3, p.v1) for p in mine[-SCATTER_POINTS:])
        out.append(Scatter(op, len(mine), dots, current, fitted))
    return tuple(out)
