"""The points file `v1proxy calibrate` writes: a `scores:` section, commented with how it was fitted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from proxy.calibrate.fit import Point


def render_points_file(
    points: Sequence[Point], match_threshold: float, notes: Sequence[str], tenant: str | None = None
) -> str:
    """YAML text: comment lines (``notes``), then ``scores: {calibration: [[v3, v1], …], match_threshold}``;
    for a ``tenant``, the same two keys under ``scores: {tenants: {APPID: …}}`` (its own curve)."""
    indent = "  " if tenant is None else "      "
    lines = [f"# {note}" for note in notes]
    lines.append("scores:")
    if tenant is not None:
        lines += ["  tenants:", f'    "{tenant}":']
    lines.append(f"{indent}calibration:")
    lines += [f"{indent}  - [{x:g}, {y:g}]" for x, y in points]
    lines.append(f"{indent}match_threshold: {match_threshold:g}")
    text = "\n".join(lines) + "\n"
    section: Any = yaml.safe_load(text)["scores"]  # what we write must read back as exactly these points
    if tenant is not None:
        section = section["tenants"][tenant]
    if [tuple(p) for p in section["calibration"]] != [(float(x), float(y)) for x, y in points]:
        raise AssertionError("points file does not read back as written")
    return text
