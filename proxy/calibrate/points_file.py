"""The points file `v1proxy calibrate` writes: a `scores:` section, commented with how it was fitted."""

from __future__ import annotations

from collections.abc import Sequence

import yaml

from proxy.calibrate.fit import Point


def render_points_file(points: Sequence[Point], match_threshold: float, notes: Sequence[str]) -> str:
    """YAML text: comment lines (``notes``), then ``scores: {calibration: [[v3, v1], …], match_threshold}``."""
    lines = [f"# {note}" for note in notes]
    lines.append("scores:")
    lines.append("  calibration:")
    lines += [f"    - [{x:g}, {y:g}]" for x, y in points]
    lines.append(f"  match_threshold: {match_threshold:g}")
    text = "\n".join(lines) + "\n"
    parsed = yaml.safe_load(text)  # what we write must read back as exactly these points
    if [tuple(p) for p in parsed["scores"]["calibration"]] != [(float(x), float(y)) for x, y in points]:
        raise AssertionError("points file does not read back as written")
    return text
