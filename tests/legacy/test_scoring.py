"""The legacy score relation: monotone, non-linear, anchored near 2.0's FAR points, noisy but fixed per image pair."""

from __future__ import annotations

import hashlib
import itertools

import numpy as np
import pytest

from proxy.legacy import scoring


def _digest(name: str) -> bytes:
    return hashlib.sha256(name.encode()).digest()


def test_base_is_monotone_and_passes_near_the_far_anchors() -> None:
    grid = np.linspace(0, 100, 1001)
    values = [scoring.base(float(s)) for s in grid]
    assert all(b > a for a, b in itertools.pairwise(values))
    assert scoring.base(0) == 0 and scoring.base(100) == 100
    assert scoring.base(40) == pytest.approx(70.0, abs=1e-9)
    assert 80 < scoring.base(50) < 81
    assert 88 < scoring.base(60) < 89  # not the proxy's 90: the backends disagree near the anchors


def test_base_is_not_linear_between_anchors() -> None:
    midpoint = (scoring.base(40) + scoring.base(60)) / 2
    assert abs(scoring.base(50) - midpoint) > 0.75


def test_noise_is_bounded_symmetric_and_deterministic() -> None:
    a, b = _digest("a"), _digest("b")
    assert scoring.legacy_score(50, a, b) == scoring.legacy_score(50, b, a) == scoring.legacy_score(50, a, b)
    offsets = {scoring.legacy_score(50, _digest(f"q{i}"), b) - scoring.base(50) for i in range(200)}
    assert max(offsets) <= scoring.NOISE_POINTS + 1e-4 and min(offsets) >= -scoring.NOISE_POINTS - 1e-4
    assert max(offsets) - min(offsets) > 2.0  # really noisy, not constant
    assert scoring.legacy_score(50, a, b, seed=1) != scoring.legacy_score(50, a, b, seed=2)


def test_identical_images_score_exactly_100_and_values_are_float32() -> None:
    a = _digest("a")
    assert scoring.legacy_score(100, a, a) == 100.0
    value = scoring.legacy_score(45.5, a, _digest("z"))
    assert value == float(np.float32(value))
