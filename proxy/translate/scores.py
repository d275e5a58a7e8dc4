"""Calibration of v3 (model 3.0) similarity scores onto the v1 scale, and the ismatch decision.

Anchors, from Tencent's VerifyFace/CompareFace docs (seeds 001_ VerifyFace ``Score``, 004_
CompareFace ``Score``): at false-accept rates 1e-3 / 1e-4 / 1e-5 model 3.0 scores 40 / 50 / 60
("3.0版本误识率千分之一对应分数为40分…万分之一…50分…十万分之一…60分"), model 2.0 — the scale v1
apps were tuned on — scores 70 / 80 / 90 ("一般超过80分则可认定为同一人"). The default curve
``far-matched`` is piecewise-linear through (0, 0), (40, 70), (50, 80), (60, 90), (100, 100)
(v3 → v1), so a legacy threshold keeps its false-accept rate.

Default ``match_threshold`` 80 on the v1 scale: 2.0's recommended "same person" cut-off, FAR
1e-4, which the far-matched curve places at v3 50 — exactly 3.0's own recommendation. v3's
VerifyFace ``IsMatch`` (fixed at v3 60, FAR 1e-5) is ignored: ``ismatch`` is always derived
from the calibrated score so the two never disagree. With ``identity`` the threshold still
reads on the reported scale; an operator choosing identity should usually set it to 50.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

Point = tuple[float, float]

IDENTITY: tuple[Point, ...] = ((0.0, 0.0), (100.0, 100.0))
FAR_MATCHED: tuple[Point, ...] = ((0.0, 0.0), (40.0, 70.0), (50.0, 80.0), (60.0, 90.0), (100.0, 100.0))
PRESETS: dict[str, tuple[Point, ...]] = {"identity": IDENTITY, "far-matched": FAR_MATCHED}
DEFAULT_MATCH_THRESHOLD = 80.0


@dataclass(frozen=True)
class Calibration:
    """A monotone piecewise-linear map from v3 scores to v1 scores, plus the v1 match threshold."""

    points: tuple[Point, ...]
    match_threshold: float

    def __post_init__(self) -> None:
        _validate(self.points, self.match_threshold)

    def to_v1(self, v3_score: float) -> float:
        """The v1-scale score for ``v3_score``; flat beyond the end points, clamped to [0, 100]."""
        if math.isnan(v3_score):
            raise ValueError("v3 score is NaN")
        pts = self.points
        if v3_score <= pts[0][0]:
            result = pts[0][1]
        elif v3_score >= pts[-1][0]:
            result = pts[-1][1]
        else:
            result = pts[-1][1]
            for (x0, y0), (x1, y1) in itertools.pairwise(pts):
                if v3_score <= x1:
                    result = y0 + (y1 - y0) * (v3_score - x0) / (x1 - x0)
                    break
        return round(min(100.0, max(0.0, result)), SCORE_DECIMALS)

    def is_match(self, v3_score: float) -> bool:
        """Same person on the v1 scale: ``to_v1(v3_score) >= match_threshold``."""
        return self.to_v1(v3_score) >= self.match_threshold


SCORE_DECIMALS = 4  # v1 scores are floats; keep them free of binary noise (0.21, not 0.21000000000000002)


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"calibration: {where} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or not 0.0 <= number <= 100.0:
        raise ValueError(f"calibration: {where} must be within [0, 100], got {value!r}")
    return number


def _validate(points: Sequence[Point], match_threshold: float) -> None:
    if len(points) < 2:
        raise ValueError(f"calibration: need at least 2 points [v3, v1], got {len(points)}")
    for i, (x, y) in enumerate(points):
        _number(x, f"point {i} v3 score")
        _number(y, f"point {i} v1 score")
        if i:
            px, py = points[i - 1]
            if x <= px:
                raise ValueError(
                    f"calibration: point {i} v3 score {x:g} must be greater than point {i - 1}'s {px:g} "
                    "(v3 scores strictly increasing)"
                )
            if y < py:
                raise ValueError(
                    f"calibration: point {i} v1 score {y:g} is below point {i - 1}'s {py:g} "
                    "(v1 scores must not decrease)"
                )
    _number(match_threshold, "match_threshold")


def calibration_from_config(
    spec: str | Sequence[Sequence[float]], match_threshold: float = DEFAULT_MATCH_THRESHOLD
) -> Calibration:
    """A Calibration from ``"identity"``, ``"far-matched"`` or ``[v3, v1]`` points; ValueError if invalid."""
    if isinstance(spec, str):
        try:
            points = PRESETS[spec]
        except KeyError:
            raise ValueError(
                f"calibration: unknown preset {spec!r} (expected 'identity', 'far-matched' "
                "or a list of [v3, v1] points)"
            ) from None
        return Calibration(points, _number(match_threshold, "match_threshold"))
    if not isinstance(spec, Sequence):
        raise ValueError(f"calibration: expected a preset name or a list of [v3, v1] points, got {spec!r}")
    pairs: list[Point] = []
    for i, pair in enumerate(spec):
        if isinstance(pair, str | bytes) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise ValueError(f"calibration: point {i} must be a pair [v3, v1], got {pair!r}")
        pairs.append((_number(pair[0], f"point {i} v3 score"), _number(pair[1], f"point {i} v1 score")))
    return Calibration(tuple(pairs), _number(match_threshold, "match_threshold"))
