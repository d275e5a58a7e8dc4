"""`python -m tests.bench.calibration`: decision agreement, far-matched vs fitted, between the two emulators.

Hard traffic: blurred, darkened shots (`degraded_photo`) of synthetic subjects verified against a
clean enrolment photo, so that scores spread over the whole scale instead of the synthetic set's
~0 / ~99. Each pair is scored by the v3 emulator's face model (raw Score) and by the legacy
emulator's 2.0-scale relation on the same image pair (`proxy.legacy.scoring.legacy_score`) --
the very functions the two emulators answer with. For each app threshold: fit on 70 % of the
pairs (as `v1proxy calibrate` does), then decision agreement on the held-out 30 % with the
default `far-matched` curve and with the fitted one, over several random splits.
"""

from __future__ import annotations

import argparse
import random

import numpy as np

from proxy.calibrate.fit import decision_agreement, fit_points, held_out_split
from proxy.emulator.facemodel import FaceModel, NoFaceFound
from proxy.emulator.synthetic import degraded_photo, subject_photo
from proxy.legacy.scoring import image_digest, legacy_score
from proxy.translate.scores import Calibration, calibration_from_config


def hard_pairs(count: int, seed: int, subjects: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """(v1 scores, raw v3 scores) of ``count`` degraded-shot verifications (shots with no face skipped)."""
    model = FaceModel()
    rng = random.Random(seed)
    refs = {s: subject_photo(s, 0) for s in range(subjects)}
    v1: list[float] = []
    v3: list[float] = []
    for i in range(count):
        s = rng.randrange(subjects)
        shot = degraded_photo(s, 1 + i % 3, blur=rng.uniform(3.5, 8.5), brightness=rng.uniform(0.45, 1.0))
        try:
            found = model.analyze(shot).faces
        except NoFaceFound:  # some heavy blurs: the services refuse those shots too (no score)
            found = ()
        if not found:
            continue
        raw = FaceModel.score(model.analyze(refs[s]).faces[0], found[0])
        v3.append(raw)
        v1.append(legacy_score(raw, image_digest(refs[s]), image_digest(shot)))
    return np.asarray(v1), np.asarray(v3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=2500)
    parser.add_argument("--splits", type=int, default=5)
    args = parser.parse_args()
    v1, v3 = hard_pairs(args.pairs, seed=11)
    print(f"{len(v1)} pairs; raw v3 scores per decile: {np.histogram(v3, bins=10, range=(0, 100))[0].tolist()}")
    print("| app threshold (v1 scale) | held-out pairs | far-matched | fitted | change |")
    print("|---|---|---|---|---|")
    for threshold in (70.0, 80.0, 90.0, 95.0):
        before, after = [], []
        for seed in range(args.splits):
            split = held_out_split(v1, v3, 0.3, seed=seed)
            fitted = Calibration(fit_points(split.fit_v1, split.fit_v3), threshold)
            before.append(
                decision_agreement(calibration_from_config("far-matched", threshold), split.held_v1, split.held_v3)
            )
            after.append(decision_agreement(fitted, split.held_v1, split.held_v3))
        b, a = float(np.mean(before)), float(np.mean(after))
        held = f"{len(split.held_v1)} × {args.splits} splits"
        print(f"| {threshold:g} | {held} | {b:.2%} | {a:.2%} | {(a - b) * 100:+.2f} pt |")


if __name__ == "__main__":
    main()
