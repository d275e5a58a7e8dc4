"""v1 recognition family: verify, identify, compare — scores calibrated to v1's scale."""

from __future__ import annotations

from proxy.domain.requests import Compare, Identify, ImageSource, Verify
from proxy.domain.results import CompareResult, IdentifyResult, VerifyResult
from proxy.handlers.boundary import to_v1_error
from proxy.handlers.context import Services
from proxy.translate import recognition as t
from proxy.translate import v3api
from proxy.translate.fields import detect_face_params
from proxy.translate.scope import Scope
from proxy.v3.errors import V3Error


async def verify(req: Verify, services: Services, scope: Scope) -> VerifyResult:
    reply = await services.v3.call(v3api.VERIFY_FACE, t.verify_to_v3(req, scope))
    return t.verify_from_v3(reply, services.calibration_of(scope.appid))


async def identify(req: Identify, services: Services, scope: Scope) -> IdentifyResult:
    reply = await services.v3.call(v3api.SEARCH_FACES, t.identify_to_v3(req, scope))
    candidates = t.identify_candidates(reply, scope)
    store = services.store
    faces = await store.get_faces(scope.store_key, [c.face_id for c in candidates])
    tags: dict[str, str | None] = {}
    for c in candidates:  # the face's own tag, else its person's
        face = faces.get(c.face_id)
        if face is not None and face.tag is not None:
            tags[c.face_id] = face.tag
        else:
            person = await store.get_person(scope.store_key, c.person_id)
            tags[c.face_id] = person.tag if person else None
    return t.identify_from_v3(reply.request_id, candidates, tags, services.calibration_of(scope.appid))


async def compare(req: Compare, services: Services, scope: Scope) -> CompareResult:
    try:
        reply = await services.v3.call(v3api.COMPARE_FACE, t.compare_to_v3(req))
    except V3Error as exc:
        error = to_v1_error(exc, services.errors)
        if error.code in t.IMAGE_FAILURES:  # v3 does not say which image failed: find out
            error = to_v1_error(exc, services.errors, fail_flag=await _failing_image(services, req.image_a))
        raise error from None
    return t.compare_from_v3(reply, services.calibration_of(scope.appid))


async def _failing_image(services: Services, image_a: ImageSource) -> int:
    """1 when image A alone fails detection, else 2 (only runs on the error path)."""
    try:
        await services.v3.call(v3api.DETECT_FACE, detect_face_params(image_a, attributes=False))
    except V3Error:
        return 1
    return 2
