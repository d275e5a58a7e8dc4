"""v1 face family: addface, delface, getfaceinfo; and the face data v3 cannot keep."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from proxy.handlers.context import Scope, Services
from proxy.store.base import FaceRecord
from proxy.translate.fields import create_face_ret_code, face_attributes, image_params
from proxy.v1.errors import V1Error
from proxy.v1.requests import AddFace, DelFace, GetFaceInfo, ImageSource, V1Call
from proxy.v1.results import AddFaceResult, DelFaceResult, FaceInfo, GetFaceInfoResult
from proxy.v3.client import V3Reply
from proxy.v3.errors import V3Error

log = structlog.get_logger(__name__)

CREATE_FACE_BATCH = 5  # v3: at most 5 images per CreateFace
CONCURRENT = frozenset({"FailedOperation.CreateFaceConcurrent", "FailedOperation.ConflictOperation"})
CONCURRENT_RETRIES = (0.05, 0.1, 0.2, 0.4)  # another proxy instance is adding to the same person
FACE_LIMIT_RET_CODE = -1309  # v1: face count over the limit
FACE_LIMIT = "InvalidParameterValue.PersonFaceNumExceed"
PERSON_FACE_LIMIT = 5  # v3 keeps at most 5 faces per person (v1: 20)
NO_ATTRIBUTES: dict[str, Any] = face_attributes({})


async def capture_attributes(services: Services, image: ImageSource) -> dict[str, Any]:
    """What v1's getfaceinfo will need later: v3 keeps no per-face attributes, so ask now."""
    try:
        reply = await services.v3.call(
            "DetectFace",
            {**image_params(image.url, image.data), "MaxFaceNum": 1, "NeedFaceAttributes": 1},
        )
    except V3Error as exc:
        log.warning("face_attributes_unavailable", v3_code=exc.code, v3_request_id=exc.request_id)
        return NO_ATTRIBUTES
    infos = reply.data.get("FaceInfos") or []
    return face_attributes(infos[0]) if infos else NO_ATTRIBUTES


def face_record(scope: Scope, face_id: str, person_id: str, tag: str | None, attrs: dict[str, Any]) -> FaceRecord:
    return FaceRecord(namespace=scope.store_key, face_id=face_id, person_id=person_id, tag=tag, **attrs)


async def addface(call: V1Call, services: Services) -> AddFaceResult:
    req = call.request
    assert isinstance(req, AddFace)
    scope = Scope.of(call.target, services)
    person = scope.v3_id(req.person_id)
    added: list[tuple[str, dict[str, Any]]] = []
    ret_codes: list[int] = []
    session_id = ""
    async with services.locks.hold(scope.writer_key(person)):
        for start in range(0, len(req.images), CREATE_FACE_BATCH):
            batch = req.images[start : start + CREATE_FACE_BATCH]
            try:
                batch_added, batch_codes, request_id = await _add_batch(services, person, batch)
            except V3Error as exc:
                if not added:
                    raise
                # earlier batches landed: report them, and this error for every image not added
                ret_codes += [services.errors.to_v1(exc.code, exc.message).code] * (len(req.images) - start)
                break
            session_id = session_id or request_id
            added += batch_added
            ret_codes += batch_codes
        if added:
            await services.store.put_faces(
                [face_record(scope, face_id, req.person_id, req.tag, attrs) for face_id, attrs in added]
            )
    return AddFaceResult(
        session_id=session_id,
        added=len(added),
        face_ids=tuple(face_id for face_id, _ in added),
        ret_codes=tuple(ret_codes),
    )


async def _add_batch(
    services: Services, person: str, batch: tuple[ImageSource, ...]
) -> tuple[list[tuple[str, dict[str, Any]]], list[int], str]:
    """One CreateFace (<= 5 images): the faces added with their attributes, v1 ret_codes, RequestId."""
    try:
        reply = await _create_faces(services, person, batch)
        fitting = len(batch)
    except V3Error as exc:
        if exc.code != FACE_LIMIT:
            raise
        # v3 refuses the whole call past 5 faces; v1 answered per image: add what fits
        base = await services.v3.call("GetPersonBaseInfo", {"PersonId": person})
        fitting = max(0, PERSON_FACE_LIMIT - len(base.data.get("FaceIds") or ()))
        if not fitting:
            return [], [FACE_LIMIT_RET_CODE] * len(batch), exc.request_id
        reply = await _create_faces(services, person, batch[:fitting])
    codes = [create_face_ret_code(int(c)) for c in reply.data.get("RetCode") or []]
    codes += [FACE_LIMIT_RET_CODE] * (len(batch) - len(codes))
    new_ids = [str(f) for f in reply.data.get("SucFaceIds") or []]
    indexes = [int(i) for i in reply.data.get("SucIndexes") or range(len(new_ids))]
    if services.capture_face_attributes:
        attrs = await asyncio.gather(*(capture_attributes(services, batch[i]) for i in indexes))
    else:
        attrs = [NO_ATTRIBUTES] * len(indexes)
    return list(zip(new_ids, attrs, strict=False)), codes, reply.request_id


async def _create_faces(services: Services, person: str, batch: tuple[ImageSource, ...]) -> V3Reply:
    params: dict[str, Any] = {"PersonId": person, "QualityControl": 0, "NeedRotateDetection": 0}
    if all(image.url for image in batch):
        params["Urls"] = [image.url for image in batch]
    else:  # the v1 layer gives all urls or all bytes
        params["Images"] = [image_params(None, image.data)["Image"] for image in batch]
    for delay in (*CONCURRENT_RETRIES, None):
        try:
            return await services.v3.call("CreateFace", params)
        except V3Error as exc:
            if exc.code not in CONCURRENT or delay is None:
                raise
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


async def delface(call: V1Call, services: Services) -> DelFaceResult:
    req = call.request
    assert isinstance(req, DelFace)
    scope = Scope.of(call.target, services)
    person = scope.v3_id(req.person_id)
    async with services.locks.hold(scope.writer_key(person)):
        reply = await services.v3.call("DeleteFace", {"PersonId": person, "FaceIds": list(req.face_ids)})
        deleted = tuple(str(f) for f in reply.data.get("SucFaceIds") or [])
        await services.store.delete_faces(scope.store_key, deleted)
    return DelFaceResult(session_id=reply.request_id, deleted=len(deleted), face_ids=deleted)


async def getfaceinfo(call: V1Call, services: Services) -> GetFaceInfoResult:
    req = call.request
    assert isinstance(req, GetFaceInfo)
    scope = Scope.of(call.target, services)
    record = await services.store.get_face(scope.store_key, req.face_id)
    if record is None:
        raise V1Error(-1305, "face does not exist")
    info = FaceInfo(
        face_id=record.face_id,
        x=record.x,
        y=record.y,
        width=float(record.width),
        height=float(record.height),
        gender=record.gender,
        age=record.age,
        expression=record.expression,
        glass=record.glass,
        pitch=record.pitch,
        yaw=record.yaw,
        roll=record.roll,
    )
    return GetFaceInfoResult(session_id="", face_info=info)
