"""The legacy service's scores: the v3 emulator's similarity re-expressed on v1's 2.0 scale.

The relation (v3 model 3.0 score ``s`` in 0..100 -> legacy score in 0..100):

    base(s)   = 100 * (1 - (1 - s/100) ** A),   A = ln(0.3) / ln(0.6) ~= 2.357
    noise     = u * NOISE_POINTS * min(1, (100 - base(s)) / 10),   u in [-1, 1]
    legacy(s) = float32(clamp(base(s) + noise, 0, 100))

``base`` is monotone and concave (non-linear): it passes exactly through (40, 70), the FAR 1e-3
anchor of both scales, and near the others -- base(50) ~= 80.5 (2.0's FAR 1e-4 point is 80),
base(60) ~= 88.4 (2.0's FAR 1e-5 point is 90). The proxy's default calibration is the
piecewise-linear map through (40,70), (50,80), (60,90), so the two backends agree far from the
anchors and disagree near them, the way two real models calibrated on different data do.

``u`` is fixed per image pair: SHA-256 over the seed and the two images' SHA-256 digests, sorted
(so A-vs-B equals B-vs-A), mapped to [-1, 1]. The same pair always gets the same score; noise
shrinks to 0 as the score nears 100, so an image against itself is exactly 100.0. Scores are
rounded through float32, like the v1 samples (``54.90695571899414``).
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

EXPONENT = math.log(0.3) / math.log(0.6)
NOISE_POINTS = 1.5
MATCH_THRESHOLD = 80.0  # verify's ismatch: 2.0's "same person" point (FAR 1e-4)


def base(v3_score: float) -> float:
    """The noiseless monotone map from the v3 scale to the 2.0 scale."""
    s = min(100.0, max(0.0, v3_score)) / 100.0
    return float(100.0 * (1.0 - (1.0 - s) ** EXPONENT))


def pair_noise(digest_a: bytes, digest_b: bytes, seed: int = 0) -> float:
    """u in [-1, 1], fixed for an unordered pair of image digests and a seed."""
    low, high = sorted((digest_a, digest_b))
    h = hashlib.sha256(seed.to_bytes(8, "big", signed=True) + low + high).digest()
    return int.from_bytes(h[:8], "big") / float(2**64 - 1) * 2.0 - 1.0


def legacy_score(v3_score: float, digest_a: bytes, digest_b: bytes, seed: int = 0) -> float:
    """The legacy service's similarity for a pair the v3 model scores ``v3_score``."""
    b = base(v3_score)
    noise = pair_noise(digest_a, digest_b, seed) * NOISE_POINTS * min(1.0, (100.0 - b) / 10.0)
    return float(np.float32(min(100.0, max(0.0, b + noise))))


def image_digest(image: bytes) -> bytes:
    return hashlib.sha256(image).digest()
