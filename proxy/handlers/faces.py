"""v1 face family: addface, delface, getfaceinfo; and the face attributes v3 cannot keep."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog

from proxy.domain.codes import V1Error
from proxy.domain.faces import NO_ATTRIBUTES, FaceAttributes
from proxy.domain.requests import AddFace, DelFace, GetFaceInfo, ImageSource
from proxy.domain.results import AddFaceResult, DelFaceResult, GetFaceInfoResult
from proxy.handlers.context import Services
from proxy.handlers.journal import journaled, outcome_unknown
from proxy.handlers.reconcile import settle_due
from proxy.store.base import FaceRecord
from proxy.translate import faces as t
from proxy.translate import v3api
from proxy.translate.fields import detect_face_params, detected_attributes
from proxy.translate.person import person_params
from proxy.translate.scope import Scope
from proxy.translate.v3api import Params
from proxy.v3.client import V3Reply
from proxy.v3.errors import V3Error

log = structlog.get_logger(__name__)

CONCURRENT_RETRIES = (0.05, 0.1, 0.2, 0.4)  # pauses before retrying a CreateFace another writer collided with


async def capture_attributes(services: Services, image: ImageSource) -> FaceAttributes:
    """What v1's getfaceinfo will need later: v3 keeps no per-face attributes, so ask now."""
    try:
        reply = await services.v3.call(v3api.DETECT_FACE, detect_face_params(image, attributes=True))
    except V3Error as exc:
        log.warning("face_attributes_unavailable", v3_code=exc.code, v3_request_id=exc.request_id)
        return NO_ATTRIBUTES
    return detected_attributes(reply)


def face_records(scope: Scope, person_id: str, tag: str | None, added: Sequence[t.AddedFace]) -> list[FaceRecord]:
    return [FaceRecord(scope.store_key, face.face_id, person_id, tag, face.attributes) for face in added]


async def addface(req: AddFace, services: Services, scope: Scope) -> AddFaceResult:
    person = scope.v3_id(req.person_id)
    added: list[t.AddedFace] = []
    ret_codes: list[int] = []
    session_id = ""
    intent = {"tag": req.tag, "images": len(req.images)}
    async with services.locks.hold(scope.writer_key(person)):
        await settle_due(services, scope.store_key, req.person_id)
        async with journaled(
            services.store, services.journal, scope, "addface", req.person_id, person, intent
        ) as write:
            for start in range(0, len(req.images), t.CREATE_FACE_BATCH):
                batch = req.images[start : start + t.CREATE_FACE_BATCH]
                try:
                    created = await _add_batch(services, person, batch)
                except V3Error as exc:
                    if not added:
                        raise
                    if outcome_unknown(exc):  # this batch may have landed: the entry is settled from v3 later
                        write.uncertain(exc)
                    # earlier batches landed: report them, and this error for every image not added
                    ret_codes += [services.errors.to_v1(exc.code, exc.message).code] * (len(req.images) - start)
                    break
                session_id = session_id or created.request_id
                landed = await _with_attributes(services, batch, created)
                # each batch kept as it lands: a later failure cannot lose the faces v3 already holds
                await services.store.put_faces(face_records(scope, req.person_id, req.tag, landed))
                added += landed
                ret_codes += created.ret_codes
            write.applied()
    return t.addface_from_v3(session_id, added, ret_codes)


async def _add_batch(services: Services, person: str, batch: tuple[ImageSource, ...]) -> t.CreatedFaces:
    """One CreateFace (<= 5 images); past v3's 5 faces per person, the images that still fit."""
    try:
        return t.created_faces(await _create_faces(services, t.create_face_params(person, batch)), len(batch))
    except V3Error as exc:
        if exc.code != v3api.PERSON_FACE_LIMIT:
            raise
        # v3 refuses the whole call past 5 faces; v1 answered per image: add what fits
        base = await services.v3.call(v3api.GET_PERSON_BASE_INFO, person_params(person))
        fitting = t.room_for_faces(base)
        if not fitting:
            return t.none_fit(len(batch), exc.request_id)
        reply = await _create_faces(services, t.create_face_params(person, batch[:fitting]))
        return t.created_faces(reply, len(batch))


async def _with_attributes(
    services: Services, batch: tuple[ImageSource, ...], created: t.CreatedFaces
) -> list[t.AddedFace]:
    if services.capture_face_attributes:
        attrs = await asyncio.gather(*(capture_attributes(services, batch[i]) for i in created.indexes))
    else:
        attrs = [NO_ATTRIBUTES] * len(created.indexes)
    return [t.AddedFace(face_id, a) for face_id, a in zip(created.face_ids, attrs, strict=False)]


async def _create_faces(services: Services, params: Params) -> V3Reply:
    """CreateFace, retried while another writer (another proxy instance) holds the person."""
    for delay in CONCURRENT_RETRIES:
        try:
            return await services.v3.call(v3api.CREATE_FACE, params)
        except V3Error as exc:
            if exc.code not in v3api.CONCURRENT_WRITE:
                raise
            await asyncio.sleep(delay)
    return await services.v3.call(v3api.CREATE_FACE, params)


async def delface(req: DelFace, services: Services, scope: Scope) -> DelFaceResult:
    person = scope.v3_id(req.person_id)
    intent = {"face_ids": list(req.face_ids)}
    async with services.locks.hold(scope.writer_key(person)):
        await settle_due(services, scope.store_key, req.person_id)
        async with journaled(
            services.store, services.journal, scope, "delface", req.person_id, person, intent
        ) as write:
            reply = await services.v3.call(v3api.DELETE_FACE, t.delete_face_params(req, person))
            deleted = t.deleted_faces(reply)
            await services.store.delete_faces(scope.store_key, deleted)
            write.applied()
    return t.delface_from_v3(reply, deleted)


async def getfaceinfo(req: GetFaceInfo, services: Services, scope: Scope) -> GetFaceInfoResult:
    record = await services.store.get_face(scope.store_key, req.face_id)
    if record is None:
        raise V1Error(-1305, "face does not exist")
    return t.getfaceinfo_result(record.face_id, record.attributes)
