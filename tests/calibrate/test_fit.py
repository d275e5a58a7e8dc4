"""The monotone fit: PAV is isotonic and optimal, the points read back as a calibration, agreement rises."""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.calibrate.fit import MIN_PAIRS, decision_agreement, fit_points, held_out_split, pav
from proxy.translate.scores import calibration_from_config


@given(st.lists(st.tuples(st.floats(0, 100), st.floats(0, 100)), min_size=1, max_size=60))
@settings(max_examples=150, deadline=None)
def test_pav_is_non_decreasing_and_keeps_the_mean(pairs: list[tuple[float, float]]) -> None:
    x = np.asarray([p[0] for p in pairs])
    y = np.asarray([p[1] for p in pairs])
    ux, fitted = pav(x, y)
    assert list(ux) == sorted(set(x.tolist()))
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(fitted))
    # the least-squares isotonic fit preserves the overall mean (weights = pairs per x)
    weights = np.asarray([np.sum(x == u) for u in ux])
    assert float(np.sum(fitted * weights)) == pytest.approx(float(np.sum(y)), abs=1e-6)


def test_pav_pools_a_violation() -> None:
    _ux, fitted = pav(np.asarray([1.0, 2.0, 3.0]), np.asarray([1.0, 3.0, 2.0]))
    assert fitted.tolist() == [1.0, 2.5, 2.5]


def legacy_like(n: int, seed: int = 7) -> tuple[list[float], list[float]]:
    """v1 scores a non-linear, noisy function of raw v3 scores (a logistic around v3 45, sd 2)."""
    rng = random.Random(seed)
    v3 = [rng.uniform(5, 95) for _ in range(n)]
    v1 = [min(100.0, max(0.0, 100 / (1 + math.exp(-(s - 45) / 6)) + rng.gauss(0, 2))) for s in v3]
    return v1, v3


def test_fitted_points_are_a_valid_calibration_and_beat_far_matched_on_held_out_pairs() -> None:
    v1, v3 = legacy_like(3000)
    split = held_out_split(v1, v3, 0.3)
    points = fit_points(split.fit_v1, split.fit_v3)
    fitted = calibration_from_config([list(p) for p in points], 80.0)  # the config reader accepts them
    assert len(points) <= 62 and points[0][0] == 0.0 and points[-1][0] == 100.0
    before = decision_agreement(calibration_from_config("far-matched", 80.0), split.held_v1, split.held_v3)
    after = decision_agreement(fitted, split.held_v1, split.held_v3)
    assert before < 0.97 < 0.99 < after
    # where this curve says 80, the truth (logistic inverse) is v3 = 45 + 6 ln 4 = 53.3
    crossing = next(x for x in np.arange(0, 100, 0.05) if fitted.to_v1(float(x)) >= 80)
    assert abs(crossing - 53.3) < 1.0


def test_too_few_pairs_is_refused_and_one_v3_score_gives_a_curve_through_it() -> None:
    with pytest.raises(ValueError, match=f"at least {MIN_PAIRS}"):
        fit_points([50.0] * 5, [40.0] * 5)
    assert fit_points([70.0] * 30, [40.0] * 30) == ((0.0, 0.0), (40.0, 70.0), (100.0, 100.0))
    assert fit_points([100.0] * 30, [0.0] * 30) == ((0.0, 100.0), (100.0, 100.0))


def test_split_is_reproducible_and_disjoint() -> None:
    v1, v3 = legacy_like(100)
    a, b = held_out_split(v1, v3, 0.3), held_out_split(v1, v3, 0.3)
    assert a.held_v3.tolist() == b.held_v3.tolist() and len(a.held_v3) == 30 and len(a.fit_v3) == 70
    assert sorted(a.held_v3.tolist() + a.fit_v3.tolist()) == sorted(v3)
