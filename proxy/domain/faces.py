"""FaceAttributes: the one type for what v1's getfaceinfo answers about a face (box, attributes, pose)."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True, slots=True)
class FaceAttributes:
    """v1 FaceItem minus its id: box (x, y ints; width, height floats), gender, age, expression, glass, pose.

    Captured with v3 DetectFace when a face is added (v3 keeps none per face), kept in the store, and
    answered by getfaceinfo. ``NO_ATTRIBUTES`` (all zeros) stands for a face added without capture.
    """

    x: int = 0
    y: int = 0
    width: float = 0.0
    height: float = 0.0
    gender: int = 0
    age: int = 0
    expression: int = 0
    glass: bool = False
    pitch: int = 0
    yaw: int = 0
    roll: int = 0


ATTRIBUTE_NAMES: tuple[str, ...] = tuple(f.name for f in fields(FaceAttributes))
"""The attribute names in declaration order (store columns, wire fields)."""

NO_ATTRIBUTES = FaceAttributes()
