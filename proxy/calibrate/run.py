"""Fit and validate a calibration from the ledger's score pairs: the work behind `v1proxy calibrate`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from proxy.calibrate.fit import MIN_PAIRS, Point, decision_agreement, fit_points, held_out_split
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


def fit_from_pairs(pairs: Sequence[StoredPair], current: Calibration, held_share: float = 0.3) -> Fitted:
    """Fit on (1 - held_share) of ``pairs``; judge it and the calibration in force on the rest (current threshold).

    The pairs are put in a canonical order first (background twins finish in any order), so the
    same pairs always give the same split, figures and points.
    """
    if len(pairs) < MIN_PAIRS:
        raise ValueError(f"need at least {MIN_PAIRS} stored score pairs, found {len(pairs)}")
    ordered = sorted(pairs, key=lambda p: (p.v3, p.v1, p.tenant, p.op))
    v1, v3 = [p.v1 for p in ordered], [p.v3 for p in ordered]
    split = held_out_split(v1, v3, held_share)
    validated = Calibration(fit_points(split.fit_v1, split.fit_v3), current.match_threshold)
    return Fitted(
        points=validated.points,
        match_threshold=current.match_threshold,
        pairs=len(pairs),
        fit_pairs=len(split.fit_v1),
        held_pairs=len(split.held_v1),
        agreement_before=decision_agreement(current, split.held_v1, split.held_v3),
        agreement_after=decision_agreement(validated, split.held_v1, split.held_v3),
    )


def agreement_on(pairs: Sequence[StoredPair], calibration: Calibration) -> float:
    """Decision agreement of ``calibration`` over all of ``pairs``."""
    return decision_agreement(
        calibration, np.asarray([p.v1 for p in pairs], dtype=float), np.asarray([p.v3 for p in pairs], dtype=float)
    )
