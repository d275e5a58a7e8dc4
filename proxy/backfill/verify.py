"""--verify-sample N: verify N enrolled persons against one of their archive photos through the live path."""

from __future__ import annotations

import random
from dataclasses import dataclass

from proxy.backfill.checkpoints import Checkpoints
from proxy.backfill.enrol import Enroller
from proxy.backfill.index import ManifestIndex, Person
from proxy.domain.codes import V1Error
from proxy.domain.requests import Target, Verify
from proxy.handlers.ops import VERIFY

CANDIDATES = 4  # persons drawn per sample place, since some may not be fully enrolled


@dataclass(frozen=True, slots=True)
class Verified:
    person_id: str
    line: int  # the manifest line of the photo used
    ismatch: bool
    confidence: float
    code: int = 0
    message: str = ""


async def verify_sample(
    index: ManifestIndex, checkpoints: Checkpoints, enroller: Enroller, size: int, *, seed: int = 0
) -> list[Verified]:
    """Up to `size` persons (a uniform sample) whose every row is applied, each verified with its last
    row's photo: a photo other than the one that created the person when the person has several."""
    pool = _reservoir(index, size * CANDIDATES, random.Random(seed))
    results: list[Verified] = []
    for person in pool:
        if len(results) >= size:
            break
        found = await checkpoints.get([r.item_key for r in person.rows])
        if len(found) != len(person.rows) or any(c.state != "applied" for c in found.values()):
            continue
        row = person.rows[-1]
        request = Verify(row.person_id, await enroller.image_of(row))
        try:
            result = await enroller.ops.run(VERIFY, Target(row.appid, row.bucket or None), request)
        except V1Error as exc:
            results.append(Verified(row.person_id, row.line, False, 0.0, exc.code, exc.message))
            continue
        results.append(Verified(row.person_id, row.line, result.ismatch, result.confidence))
    return results


def _reservoir(index: ManifestIndex, size: int, rng: random.Random) -> list[Person]:
    chosen: list[Person] = []
    for seen, person in enumerate(index.persons()):
        if seen < size:
            chosen.append(person)
        else:
            slot = rng.randrange(seen + 1)
            if slot < size:
                chosen[slot] = person
    rng.shuffle(chosen)
    return chosen
