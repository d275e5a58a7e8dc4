"""v1 recognition family: verify, identify, compare — scores calibrated to v1's scale."""

from __future__ import annotations

from proxy.handlers.boundary import to_v1_error
from proxy.handlers.context import Scope, Services
from proxy.translate.fields import image_params
from proxy.v1.requests import Compare, Identify, ImageSource, V1Call, Verify
from proxy.v1.results import CompareResult, IdentifyCandidate, IdentifyResult, VerifyResult
from proxy.v3.errors import V3Error

IDENTIFY_TOP = 5  # v1 identify: the top 5 persons of one group
# v1 codes that mean "this image is the problem": compare must then say which one (fail_flag)
IMAGE_FAILURES = frozenset({-1101, -1102, -1300, -1308, -1400, -1403})


async def verify(call: V1Call, services: Services) -> VerifyResult:
    req = call.request
    assert isinstance(req, Verify)
    scope = Scope.of(call.target, services)
    reply = await services.v3.call(
        "VerifyFace", {"PersonId": scope.v3_id(req.person_id), **image_params(req.image.url, req.image.data)}
    )
    score = float(reply.data.get("Score") or 0.0)
    return VerifyResult(
        session_id=reply.request_id,
        confidence=services.calibration.to_v1(score),
        ismatch=services.calibration.is_match(score),
    )


async def identify(call: V1Call, services: Services) -> IdentifyResult:
    req = call.request
    assert isinstance(req, Identify)
    scope = Scope.of(call.target, services)
    reply = await services.v3.call(
        "SearchFaces",
        {
            "GroupIds": [scope.v3_id(req.group_id)],
            **image_params(req.image.url, req.image.data),
            "MaxFaceNum": 1,
            "MaxPersonNum": IDENTIFY_TOP,
            "NeedPersonInfo": 0,
        },
    )
    results = reply.data.get("Results") or []
    found = (results[0].get("Candidates") or []) if results else []
    candidates = [(scope.v1_id(str(c["PersonId"])), str(c["FaceId"]), float(c["Score"])) for c in found]
    mine = [(p, f, s) for p, f, s in candidates if p is not None]
    faces = await services.store.get_faces(scope.store_key, [f for _, f, _ in mine])
    persons = {p: await services.store.get_person(scope.store_key, p) for p, f, _ in mine if f not in faces}
    out = []
    for person_id, face_id, score in mine[:IDENTIFY_TOP]:
        assert person_id is not None
        face = faces.get(face_id)
        person = persons.get(person_id)
        tag = face.tag if face and face.tag is not None else (person.tag if person else None)
        out.append(
            IdentifyCandidate(
                person_id=person_id,
                face_id=face_id,
                confidence=services.calibration.to_v1(score),
                tag=tag or "",
            )
        )
    return IdentifyResult(session_id=reply.request_id, candidates=tuple(out))


async def compare(call: V1Call, services: Services) -> CompareResult:
    req = call.request
    assert isinstance(req, Compare)
    params = {
        **image_params(req.image_a.url, req.image_a.data, suffix="A"),
        **image_params(req.image_b.url, req.image_b.data, suffix="B"),
    }
    try:
        reply = await services.v3.call("CompareFace", params)
    except V3Error as exc:
        error = to_v1_error(exc, services.errors)
        if error.code in IMAGE_FAILURES:  # v3 does not say which image failed: find out
            error = to_v1_error(exc, services.errors, fail_flag=await _failing_image(services, req.image_a))
        raise error from None
    return CompareResult(
        session_id=reply.request_id,
        similarity=services.calibration.to_v1(float(reply.data.get("Score") or 0.0)),
    )


async def _failing_image(services: Services, image_a: ImageSource) -> int:
    """1 when image A alone fails detection, else 2 (only runs on the error path)."""
    try:
        await services.v3.call("DetectFace", {**image_params(image_a.url, image_a.data), "MaxFaceNum": 1})
    except V3Error:
        return 1
    return 2
