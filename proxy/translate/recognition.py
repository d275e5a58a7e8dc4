"""v1 recognition family <-> v3: verify (VerifyFace), identify (SearchFaces), compare (CompareFace)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from proxy.domain.requests import Compare, Identify, Verify
from proxy.domain.results import CompareResult, IdentifyCandidate, IdentifyResult, VerifyResult
from proxy.translate.fields import image_params
from proxy.translate.scope import Scope
from proxy.translate.scores import Calibration
from proxy.translate.v3api import Params, Reply

IDENTIFY_TOP = 5  # v1 identify: the top 5 persons of one group
IMAGE_FAILURES = frozenset({-1101, -1102, -1300, -1308, -1400, -1403})
"""v1 codes that mean "this image is the problem": compare must then say which one (fail_flag)."""


def verify_to_v3(req: Verify, scope: Scope) -> Params:
    params = image_params(req.image)
    params["PersonId"] = scope.v3_id(req.person_id)
    return params


def verify_from_v3(reply: Reply, calibration: Calibration) -> VerifyResult:
    # v3's IsMatch (fixed at v3 60) is ignored: ismatch follows the calibrated score (translate.scores)
    score = float(reply.data.get("Score") or 0.0)
    return VerifyResult(
        session_id=reply.request_id, confidence=calibration.to_v1(score), ismatch=calibration.is_match(score)
    )


def identify_to_v3(req: Identify, scope: Scope) -> Params:
    params = image_params(req.image)
    params.update(GroupIds=[scope.v3_id(req.group_id)], MaxFaceNum=1, MaxPersonNum=IDENTIFY_TOP, NeedPersonInfo=0)
    return params


@dataclass(frozen=True, slots=True)
class Candidate:
    """One SearchFaces candidate of this tenant: v1 person id, face id, raw v3 score."""

    person_id: str
    face_id: str
    score: float


def identify_candidates(reply: Reply, scope: Scope) -> tuple[Candidate, ...]:
    """The best candidates (at most 5) among this tenant's persons, best first as v3 ranks them."""
    results = reply.data.get("Results") or []
    found = (results[0].get("Candidates") or []) if results else []
    mine = []
    for c in found:
        person_id = scope.v1_id(str(c["PersonId"]))
        if person_id is not None:
            mine.append(Candidate(person_id, str(c["FaceId"]), float(c["Score"])))
    return tuple(mine[:IDENTIFY_TOP])


def identify_from_v3(
    session_id: str,
    candidates: tuple[Candidate, ...],
    tags: Mapping[str, str | None],
    calibration: Calibration,
) -> IdentifyResult:
    """`tags`: the v1 tag of each candidate's face (the face's own, else its person's), by face id."""
    return IdentifyResult(
        session_id=session_id,
        candidates=tuple(
            IdentifyCandidate(
                person_id=c.person_id,
                face_id=c.face_id,
                confidence=calibration.to_v1(c.score),
                tag=tags.get(c.face_id) or "",
            )
            for c in candidates
        ),
    )


def compare_to_v3(req: Compare) -> Params:
    params = image_params(req.image_a, suffix="A")
    params.update(image_params(req.image_b, suffix="B"))
    return params


def compare_from_v3(reply: Reply, calibration: Calibration) -> CompareResult:
    return CompareResult(
        session_id=reply.request_id, similarity=calibration.to_v1(float(reply.data.get("Score") or 0.0))
    )
