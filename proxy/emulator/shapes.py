"""Plausible landmark point sets (AnalyzeFace's FaceShape) and derived attribute blocks from a face box."""

from __future__ import annotations

import math
from typing import Any

from proxy.emulator.facemodel import Face, FaceBox

Point = dict[str, int]


def _ellipse(
    cx: float,
    cy: float,
    rx: float,
    ry: float,
    n: int,
    start: float = 0.0,
    end: float = 2 * math.pi,
    closed: bool = True,
) -> list[Point]:
    steps = n if closed else max(n - 1, 1)
    return [
        {
            "X": round(cx + rx * math.cos(start + (end - start) * i / steps)),
            "Y": round(cy + ry * math.sin(start + (end - start) * i / steps)),
        }
        for i in range(n)
    ]


def face_shape(box: FaceBox) -> dict[str, list[Point]]:
    """21 profile, 8 per eye and brow, 22 mouth, 13 nose, 1 per pupil — as v3's FaceShape."""
    x, y, w, h = box.x, box.y, box.width, box.height
    cx = x + w / 2
    eye_y, eye_dx = y + 0.40 * h, 0.20 * w
    return {
        "FaceProfile": _ellipse(cx, y + 0.45 * h, 0.48 * w, 0.55 * h, 21, 0.0, math.pi, closed=False),
        "LeftEye": _ellipse(cx - eye_dx, eye_y, 0.09 * w, 0.04 * h, 8),
        "RightEye": _ellipse(cx + eye_dx, eye_y, 0.09 * w, 0.04 * h, 8),
        "LeftEyeBrow": _ellipse(cx - eye_dx, y + 0.31 * h, 0.11 * w, 0.03 * h, 8),
        "RightEyeBrow": _ellipse(cx + eye_dx, y + 0.31 * h, 0.11 * w, 0.03 * h, 8),
        "Mouth": _ellipse(cx, y + 0.76 * h, 0.17 * w, 0.06 * h, 22),
        "Nose": _ellipse(cx, y + 0.56 * h, 0.07 * w, 0.13 * h, 13, -math.pi / 2, 3 * math.pi / 2),
        "LeftPupil": [{"X": round(cx - eye_dx), "Y": round(eye_y)}],
        "RightPupil": [{"X": round(cx + eye_dx), "Y": round(eye_y)}],
    }


def hair(face: Face) -> dict[str, int]:
    h = face.attributes.hair
    return {"Length": h.length, "Bang": h.bang, "Color": h.color}


def completeness(face: Face) -> dict[str, Any]:
    c = face.quality.completeness
    return {
        "Eyebrow": c.eyebrow,
        "Eye": c.eye,
        "Nose": c.nose,
        "Cheek": c.cheek,
        "Mouth": c.mouth,
        "Chin": c.chin,
    }
