"""v1 face family <-> v3: addface (CreateFace), delface (DeleteFace), getfaceinfo (the store's attributes)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from proxy.domain.faces import FaceAttributes
from proxy.domain.requests import DelFace, ImageSource
from proxy.domain.results import AddFaceResult, DelFaceResult, FaceInfo, GetFaceInfoResult
from proxy.translate.fields import create_face_ret_code, face_ids
from proxy.translate.v3api import Params, Reply

CREATE_FACE_BATCH = 5  # v3: at most 5 images per CreateFace
PERSON_FACE_LIMIT = 5  # v3 keeps at most 5 faces per person (v1: 20)
FACE_LIMIT_RET_CODE = -1309  # v1: face count over the limit


def create_face_params(person: str, batch: Sequence[ImageSource]) -> Params:
    """CreateFace for up to 5 images: all urls, or all bytes (the v1 parser never mixes them)."""
    params: Params = {"PersonId": person, "QualityControl": 0, "NeedRotateDetection": 0}
    if all(image.url for image in batch):
        params["Urls"] = [image.url for image in batch]
    else:
        params["Images"] = [image.data for image in batch]
    return params


@dataclass(frozen=True, slots=True)
class CreatedFaces:
    """One CreateFace's outcome: the new face ids, the batch index each came from, a v1 ret_code per image."""

    face_ids: tuple[str, ...]
    indexes: tuple[int, ...]
    ret_codes: tuple[int, ...]
    request_id: str


def created_faces(reply: Reply, batch_size: int) -> CreatedFaces:
    """Images past what v3 answered for (it stopped at the face limit) get -1309."""
    codes = [create_face_ret_code(int(c)) for c in reply.data.get("RetCode") or []]
    codes += [FACE_LIMIT_RET_CODE] * (batch_size - len(codes))
    new_ids = tuple(str(f) for f in reply.data.get("SucFaceIds") or [])
    indexes = tuple(int(i) for i in reply.data.get("SucIndexes") or range(len(new_ids)))
    return CreatedFaces(face_ids=new_ids, indexes=indexes, ret_codes=tuple(codes), request_id=reply.request_id)


def none_fit(batch_size: int, request_id: str) -> CreatedFaces:
    """The person already has v3's 5 faces: every image of the batch gets -1309."""
    return CreatedFaces((), (), (FACE_LIMIT_RET_CODE,) * batch_size, request_id)


def room_for_faces(base: Reply) -> int:
    """How many more faces v3 takes for a person, from its GetPersonBaseInfo."""
    return max(0, PERSON_FACE_LIMIT - len(face_ids(base)))


@dataclass(frozen=True, slots=True)
class AddedFace:
    """A face v3 added, with the attributes captured for getfaceinfo."""

    face_id: str
    attributes: FaceAttributes


def addface_from_v3(session_id: str, added: Sequence[AddedFace], ret_codes: Sequence[int]) -> AddFaceResult:
    return AddFaceResult(
        session_id=session_id,
        added=len(added),
        face_ids=tuple(face.face_id for face in added),
        ret_codes=tuple(ret_codes),
    )


def delete_face_params(req: DelFace, person: str) -> Params:
    return {"PersonId": person, "FaceIds": list(req.face_ids)}


def deleted_faces(reply: Reply) -> tuple[str, ...]:
    return tuple(str(f) for f in reply.data.get("SucFaceIds") or [])


def delface_from_v3(reply: Reply, deleted: tuple[str, ...]) -> DelFaceResult:
    return DelFaceResult(session_id=reply.request_id, deleted=len(deleted), face_ids=deleted)


def getfaceinfo_result(face_id: str, attributes: FaceAttributes) -> GetFaceInfoResult:
    """getfaceinfo calls no v3 action: session_id stays empty."""
    return GetFaceInfoResult(session_id="", face_info=FaceInfo(face_id=face_id, attributes=attributes))
