"""A monotone map from raw v3 Score to the v1 score, fitted on stored pairs (pool-adjacent-violators).

Pure numpy, no I/O. ``fit_points`` returns calibration points ``[(v3, v1), …]`` in the form
``scores.calibration`` reads: v3 strictly increasing, v1 never decreasing, both within [0, 100].
``decision_agreement`` is the figure that matters: the share of pairs on which a calibration
puts the v3 score on the same side of the app's threshold as the v1 score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from proxy.translate.scores import Calibration

Point = tuple[float, float]
MIN_PAIRS = 20  # fewer pairs than this fit nothing worth applying
SIMPLIFY_TOLERANCE = 0.25  # v1 points: how far the written curve may stray from the fitted one
PAIRS_PER_BIN = 5  # pairs are averaged in equal-count bins along v3 before the fit: a curve, not a staircase
MAX_BINS = 60


@dataclass(frozen=True, slots=True)
class Split:
    """Pairs for fitting and pairs held out for validation; arrays of (v1, v3) columns."""

    fit_v1: np.ndarray
    fit_v3: np.ndarray
    held_v1: np.ndarray
    held_v3: np.ndarray


def held_out_split(
    v1: Sequence[float] | np.ndarray, v3: Sequence[float] | np.ndarray, held_share: float = 0.3, seed: int = 13
) -> Split:
    """A reproducible random split: ``held_share`` of the pairs held out for validation."""
    a, b = np.asarray(v1, dtype=float), np.asarray(v3, dtype=float)
    order = np.random.default_rng(seed).permutation(len(a))
    cut = round(len(a) * (1.0 - held_share))
    fit, held = order[:cut], order[cut:]
    return Split(a[fit], b[fit], a[held], b[held])


def pav(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Weighted isotonic (non-decreasing) least-squares fit of y on x: the distinct x values and fitted y."""
    if len(x) == 0:
        raise ValueError("no pairs to fit")
    weights_in = np.ones(len(x)) if w is None else np.asarray(w, dtype=float)
    order = np.argsort(x, kind="stable")
    xs, ys, ws = x[order], y[order], weights_in[order]
    # one value per distinct x: the weighted mean of its ys
    ux, start = np.unique(xs, return_index=True)
    counts = np.add.reduceat(ws, start)
    sums = np.add.reduceat(ys * ws, start)
    means: list[float] = []
    weights: list[float] = []
    sizes: list[int] = []
    for m, c in zip(sums / counts, counts, strict=True):
        means.append(float(m))
        weights.append(float(c))
        sizes.append(1)
        while len(means) > 1 and means[-2] > means[-1]:  # pool adjacent violators
            w2 = weights[-2] + weights[-1]
            m2 = (means[-2] * weights[-2] + means[-1] * weights[-1]) / w2
            n2 = sizes[-2] + sizes[-1]
            del means[-1], weights[-1], sizes[-1]
            means[-1], weights[-1], sizes[-1] = m2, w2, n2
    fitted = np.repeat(np.asarray(means), np.asarray(sizes))
    return ux, fitted


def _bins(v1: np.ndarray, v3: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Equal-count bins along v3 (about PAIRS_PER_BIN pairs, at most MAX_BINS): mean v3, mean v1, count."""
    order = np.argsort(v3, kind="stable")
    count = max(2, min(MAX_BINS, len(v3) // PAIRS_PER_BIN))
    chunks = [c for c in np.array_split(order, count) if len(c)]
    xs = np.asarray([v3[c].mean() for c in chunks])
    ys = np.asarray([v1[c].mean() for c in chunks])
    ws = np.asarray([float(len(c)) for c in chunks])
    return xs, ys, ws


def _simplify(points: list[Point], tolerance: float) -> list[Point]:
    """Ramer-Douglas-Peucker on the curve (vertical distance); a subset of monotone points stays monotone."""
    if len(points) <= 2:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        lo, hi = stack.pop()
        (x0, y0), (x1, y1) = points[lo], points[hi]
        worst, where = 0.0, -1
        for k in range(lo + 1, hi):
            x, y = points[k]
            line = y0 + (y1 - y0) * (x - x0) / (x1 - x0) if x1 != x0 else y0
            if abs(y - line) > worst:
                worst, where = abs(y - line), k
        if where >= 0 and worst > tolerance:
            keep[where] = True
            stack += [(lo, where), (where, hi)]
    return [p for p, k in zip(points, keep, strict=True) if k]


def fit_points(v1: Sequence[float] | np.ndarray, v3: Sequence[float] | np.ndarray) -> tuple[Point, ...]:
    """Calibration points fitted on pairs: monotone, from raw v3 (x) to v1 (y), within [0, 100].

    Pairs are averaged in equal-count bins along v3, the bin means made non-decreasing by
    pool-adjacent-violators, and the curve thinned to the points that matter. (A crossing of the
    app's threshold placed at the v3 cut that best reproduces v1's decisions on the fit pairs was
    tried: it overfits, and loses to the plain isotonic curve on held-out pairs.) Ends: (0, 0)
    and (100, 100) are added when the data stops short of them, so scores beyond the observed
    range keep their order.
    """
    a, b = np.asarray(v1, dtype=float), np.asarray(v3, dtype=float)
    if len(a) < MIN_PAIRS:
        raise ValueError(f"need at least {MIN_PAIRS} score pairs to fit a calibration, got {len(a)}")
    a, b = np.clip(a, 0, 100), np.clip(b, 0, 100)
    xs, ys, ws = _bins(a, b)
    ux, fitted = pav(xs, ys, ws)
    points = _simplify([(float(x), float(y)) for x, y in zip(ux, fitted, strict=True)], SIMPLIFY_TOLERANCE)
    points = [(round(x, 2), round(y, 2)) for x, y in points]
    if points[0][0] > 0 and points[0][1] > 0:
        points.insert(0, (0.0, 0.0))
    if points[-1][0] < 100 and points[-1][1] < 100:
        points.append((100.0, 100.0))
    out: list[Point] = []
    for x, y in points:  # rounding may merge x values or nudge y below its predecessor
        if out and x <= out[-1][0]:
            out[-1] = (out[-1][0], max(out[-1][1], y))
            continue
        out.append((x, max(y, out[-1][1]) if out else y))
    if len(out) < 2:  # one point on an edge (all v3 scores 0 or 100): flat through it
        out = [(0.0, out[0][1]), (100.0, out[0][1])]
    return tuple(out)


def decision_agreement(calibration: Calibration, v1: np.ndarray, v3: np.ndarray) -> float:
    """Share of pairs where ``calibration`` puts v3 on the same side of its threshold as v1 (1.0 when empty)."""
    if len(v1) == 0:
        return 1.0
    t = calibration.match_threshold
    mapped = np.asarray([calibration.to_v1(float(s)) for s in v3])
    return float(np.mean((np.asarray(v1) >= t) == (mapped >= t)))
