"""Fit and validate a calibration from the ledger's score pairs: the work behind `v1proxy calibrate`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from proxy.calibrate.fit import MIN_PAIRS, Point, Split, decision_agreement, fit_points, held_out_split
from proxy.migration.ledger import StoredPair
from proxy.translate.scores import Calibration


@dataclass(frozen=True, slots=True)
class Fitted:
    """A fitted calibration and its held-out figures against the calibration in force."""

    points: tuple[Point, ...]
    match_threshold: float
    pairs: int
    fit_pairs: int
    held_pairs: int
    agreement_before: float  # on held-out pairs, with the calibration in force
    agreement_after: float  # on held-out pairs, with the fitted one

    @property
    def improves(self) -> bool:
        return self.agreement_after > self.agreement_before


@dataclass(frozen=True, slots=True)
class TenantVsRest:
    """A tenant's own fit beside a fit pooled with every other tenant's pairs, on the tenant's held-out pairs."""

    own: Fitted  # fitted on the tenant's fit pairs alone
    rest_pairs: int  # other tenants' pairs in the pooled fit
    pooled_agreement: float | None  # the pooled fit on the same held-out pairs; None without other tenants' pairs

    @property
    def gain(self) -> float | None:
        """How much the tenant's own fit beats the pooled one on its held-out pairs."""
        return None if self.pooled_agreement is None else self.own.agreement_after - self.pooled_agreement


def _split(pairs: Sequence[StoredPair], held_share: float) -> Split:
    """The canonical order first (background twins finish in any order): same pairs, same split."""
    if len(pairs) < MIN_PAIRS:
        raise ValueError(f"need at least {MIN_PAIRS} stored score pairs, found {len(pairs)}")
    ordered = sorted(pairs, key=lambda p: (p.v3, p.v1, p.tenant, p.op))
    return held_out_split([p.v1 for p in ordered], [p.v3 for p in ordered], held_share)


def _fitted(split: Split, pairs: int, current: Calibration) -> Fitted:
    validated = Calibration(fit_points(split.fit_v1, split.fit_v3), current.match_threshold)
    return Fitted(
        points=validated.points,
        match_threshold=current.match_threshold,
        pairs=pairs,
        fit_pairs=len(split.fit_v1),
        held_pairs=len(split.held_v1),
        agreement_before=decision_agreement(current, split.held_v1, split.held_v3),
        agreement_after=decision_agreement(validated, split.held_v1, split.held_v3),
    )


def fit_from_pairs(pairs: Sequence[StoredPair], current: Calibration, held_share: float = 0.3) -> Fitted:
    """Fit on (1 - held_share) of ``pairs``; judge it and the calibration in force on the rest (current threshold)."""
    return _fitted(_split(pairs, held_share), len(pairs), current)


def tenant_against_rest(
    own: Sequence[StoredPair], rest: Sequence[StoredPair], current: Calibration, held_share: float = 0.3
) -> TenantVsRest:
    """Whether a tenant needs its own curve: its own fit, and a fit on its fit pairs plus every other tenant's
    pairs, both judged on the tenant's held-out pairs at ``current``'s threshold (the tenant's)."""
    split = _split(own, held_share)
    fitted = _fitted(split, len(own), current)
    if not rest:
        return TenantVsRest(fitted, 0, None)
    v1 = np.concatenate([split.fit_v1, np.asarray([p.v1 for p in rest], dtype=float)])
    v3 = np.concatenate([split.fit_v3, np.asarray([p.v3 for p in rest], dtype=float)])
    pooled = Calibration(fit_points(v1, v3), current.match_threshold)
    return TenantVsRest(fitted, len(rest), decision_agreement(pooled, split.held_v1, split.held_v3))


def agreement_on(pairs: Sequence[StoredPair], calibration: Calibration) -> float:
    """Decision agreement of ``calibration`` over all of ``pairs``."""
    return decision_agreement(
        calibration, np.asarray([p.v1 for p in pairs], dtype=float), np.asarray([p.v3 for p in pairs], dtype=float)
    )
