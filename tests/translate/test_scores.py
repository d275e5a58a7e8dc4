"""Score calibration: FAR anchors from seeds 001_/004_, monotone, clamped, ismatch agrees, validation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.translate.scores import FAR_MATCHED, Calibration, calibration_from_config

scores = st.floats(min_value=-50, max_value=150, allow_nan=False)


def test_far_matched_maps_the_documented_anchors() -> None:
    cal = calibration_from_config("far-matched")
    # 3.0 at FAR 1e-3/1e-4/1e-5 scores 40/50/60; 2.0 scores 70/80/90 (001_ VerifyFace, 004_ CompareFace).
    assert [cal.to_v1(s) for s in (40, 50, 60)] == [70.0, 80.0, 90.0]
    assert cal.to_v1(0) == 0.0
    assert cal.to_v1(100) == 100.0
    assert cal.to_v1(45) == pytest.approx(75.0)
    assert cal.to_v1(20) == pytest.approx(35.0)
    assert cal.to_v1(80) == pytest.approx(95.0)
    assert cal.points == FAR_MATCHED
    assert cal.match_threshold == 80.0


def test_default_threshold_means_far_1e4() -> None:
    cal = calibration_from_config("far-matched")
    assert cal.is_match(50.0)
    assert not cal.is_match(49.99)


def test_identity() -> None:
    cal = calibration_from_config("identity", match_threshold=50)
    assert cal.to_v1(37.5) == 37.5
    assert cal.is_match(50) and not cal.is_match(49.9)


def test_result_is_a_float_and_clamped() -> None:
    cal = calibration_from_config("far-matched")
    assert type(cal.to_v1(40)) is float
    assert cal.to_v1(-5) == 0.0
    assert cal.to_v1(120) == 100.0
    assert cal.to_v1(float("inf")) == 100.0
    with pytest.raises(ValueError, match="NaN"):
        cal.to_v1(float("nan"))


def test_custom_points_flat_beyond_ends() -> None:
    cal = calibration_from_config([[20, 10], [50, 80], [70, 95]], match_threshold=60)
    assert cal.to_v1(0) == 10.0
    assert cal.to_v1(90) == 95.0
    assert cal.to_v1(35) == pytest.approx(45.0)
    assert cal.is_match(cal_x := 41.5) == (cal.to_v1(cal_x) >= 60)


@given(st.sampled_from(["identity", "far-matched"]), scores, scores)
def test_monotone_and_in_range(spec: str, a: float, b: float) -> None:
    cal = calibration_from_config(spec)
    lo, hi = sorted((a, b))
    assert 0.0 <= cal.to_v1(lo) <= cal.to_v1(hi) <= 100.0


@given(scores, st.floats(min_value=0, max_value=100))
def test_ismatch_agrees_with_calibrated_score(score: float, threshold: float) -> None:
    cal = calibration_from_config("far-matched", match_threshold=threshold)
    assert cal.is_match(score) == (cal.to_v1(score) >= threshold)


@pytest.mark.parametrize(
    ("spec", "threshold", "message"),
    [
        (
            "steep",
            80,
            "calibration: unknown preset 'steep' (expected 'identity', 'far-matched' or a list of [v3, v1] points)",
        ),
        ([[0, 0]], 80, "calibration: need at least 2 points [v3, v1], got 1"),
        ([], 80, "calibration: need at least 2 points [v3, v1], got 0"),
        ([[0, 0], [50]], 80, "calibration: point 1 must be a pair [v3, v1], got [50]"),
        ([[0, 0], "ab"], 80, "calibration: point 1 must be a pair [v3, v1], got 'ab'"),
        ([[0, 0], [50, "x"]], 80, "calibration: point 1 v1 score must be a number, got 'x'"),
        ([[0, 0], [True, 1]], 80, "calibration: point 1 v3 score must be a number, got True"),
        ([[0, 0], [101, 100]], 80, "calibration: point 1 v3 score must be within [0, 100], got 101"),
        ([[0, -1], [100, 100]], 80, "calibration: point 0 v1 score must be within [0, 100], got -1"),
        (
            [[50, 0], [50, 100]],
            80,
            "calibration: point 1 v3 score 50 must be greater than point 0's 50 (v3 scores strictly increasing)",
        ),
        (
            [[60, 0], [50, 100]],
            80,
            "calibration: point 1 v3 score 50 must be greater than point 0's 60 (v3 scores strictly increasing)",
        ),
        (
            [[0, 50], [100, 40]],
            80,
            "calibration: point 1 v1 score 40 is below point 0's 50 (v1 scores must not decrease)",
        ),
        ("identity", 120, "calibration: match_threshold must be within [0, 100], got 120"),
        ([[0, 0], [100, 100]], float("nan"), "calibration: match_threshold must be within [0, 100], got nan"),
    ],
)
def test_invalid_specs_say_exactly_what_is_wrong(spec: object, threshold: float, message: str) -> None:
    with pytest.raises(ValueError) as info:
        calibration_from_config(spec, match_threshold=threshold)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_flat_segments_are_allowed_and_dataclass_validates() -> None:
    cal = calibration_from_config([[0, 0], [30, 50], [60, 50], [100, 100]])
    assert cal.to_v1(45) == 50.0
    with pytest.raises(ValueError, match="at least 2 points"):
        Calibration(((0.0, 0.0),), 80.0)
