"""v3 actions: a table from action name to handler that reads typed params, applies state rules, renders."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from proxy.emulator import shapes
from proxy.emulator.downloads import fetch_image
from proxy.emulator.exceptions import EmulatorError, failed, invalid_value
from proxy.emulator.facemodel import Face, FaceBox, ImageAnalysis, NoFaceFound
from proxy.emulator.images import ImageRejected, decode_base64_image
from proxy.emulator.models import (
    DEFAULT_MODEL_VERSION,
    EmulatorState,
    GroupRecord,
    Match,
    PersonRecord,
)
from proxy.emulator.wire import Params

VERIFY_MATCH_SCORE = 60.0  # VerifyFace: "固定阈值分数为60分"
DEFAULT_CREATE_FACE_THRESHOLD = 60.0
QUALITY_THRESHOLDS = {0: 0, 1: 30, 2: 50, 3: 70, 4: 85}  # QualityControl level -> minimum quality score
UNIQUE_PERSON_THRESHOLDS = {1: 70.0, 2: 80.0, 3: 90.0, 4: 95.0}  # UniquePersonControl -> same-person score

# CreateFace's per-image RetCode for each image failure.
RET_CODES: dict[str, int] = {
    "NoFace": -1101,
    "FailedOperation.ImageDecodeFailed": -1102,
    "FailedOperation.ImageDownloadError": -1102,
    "InvalidParameterValue.ImageEmpty": -1102,
    "InvalidParameterValue.UrlIllegal": -1102,
    "FailedOperation.ImageSizeExceed": -1109,
    "FailedOperation.ImageResolutionExceed": -1109,
    "FailedOperation.ImageResolutionTooSmall": -1109,
    "FailedOperation.FaceQualityNotQualified": -1601,
}


@dataclass
class ActionContext:
    """What a handler may use: the account state, an HTTP session for `Url`, the injected latency."""

    state: EmulatorState
    session: Callable[[], aiohttp.ClientSession]
    delay_s: float = 0.0
    _waited: bool = field(default=False, repr=False)

    async def wait(self) -> None:
        """Sleep the injected latency, once per request."""
        if not self._waited:
            self._waited = True
            if self.delay_s > 0:
                await asyncio.sleep(self.delay_s)


Handler = Callable[[ActionContext, Params], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Action:
    handler: Handler
    params: frozenset[str]
    waits_itself: bool = False  # the handler calls ctx.wait() at the point that matters


# ---- images -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Photo:
    image: bytes
    analysis: ImageAnalysis


async def _image_bytes(ctx: ActionContext, image_b64: str | None, url: str | None) -> bytes:
    if url:  # "Url、Image必须提供一个，如果都提供，只使用 Url"
        return await fetch_image(ctx.session(), url)
    if image_b64 is None:
        raise invalid_value("ImageEmpty", "Either Image or Url is required.")
    return decode_base64_image(image_b64)


async def _photo(ctx: ActionContext, params: Params, image_key: str = "Image", url_key: str = "Url") -> Photo:
    data = await _image_bytes(ctx, params.opt_str(image_key), params.opt_str(url_key))
    try:
        return Photo(data, ctx.state.model.analyze(data))
    except NoFaceFound:
        raise invalid_value("NoFaceInPhoto", "No face was found in the image.") from None


def _quality_level(params: Params) -> int:
    level = params.opt_int("QualityControl", 0)
    if level not in QUALITY_THRESHOLDS:
        raise invalid_value("QualityControlIllegal", "QualityControl must be 0, 1, 2, 3 or 4.")
    return level


def _passes_quality(face: Face, level: int) -> bool:
    return face.quality.score >= QUALITY_THRESHOLDS[level]


def _require_quality(face: Face, level: int) -> None:
    if not _passes_quality(face, level):
        raise failed("FaceQualityNotQualified", "The face does not meet the QualityControl requirement.")


# ---- rendering ----------------------------------------------------------------------------------
def face_rect(box: FaceBox) -> dict[str, Any]:
    return {"X": box.x, "Y": box.y, "Width": box.width, "Height": box.height}


def _group_info(group: GroupRecord) -> dict[str, Any]:
    return {
        "GroupName": group.name,
        "GroupId": group.group_id,
        "GroupExDescriptions": list(group.ex_descriptions),
        "Tag": group.tag,
        "FaceModelVersion": group.face_model_version,
        "CreationTimestamp": group.created_ms,
        "UpdateTimestamp": group.updated_ms,
    }


def _person_groups(person: PersonRecord) -> list[dict[str, Any]]:
    return [{"GroupId": g, "PersonExDescriptions": list(d)} for g, d in person.groups.items()]


def _candidate(match: Match, *, with_face: bool, with_info: bool) -> dict[str, Any]:
    person = match.person
    return {
        "PersonId": person.person_id,
        "FaceId": match.face_id if with_face else None,
        "Score": match.score,
        "PersonName": person.name if with_info else None,
        "Gender": person.gender if with_info else None,
        "PersonGroupInfos": _person_groups(person) if with_info else None,
    }


# ---- groups -------------------------------------------------------------------------------------
async def create_group(ctx: ActionContext, p: Params) -> dict[str, Any]:
    record = ctx.state.create_group(
        p.req_str("GroupId"),
        p.req_str("GroupName"),
        p.opt_str_list("GroupExDescriptions") or [],
        p.opt_str("Tag", "") or "",
        p.opt_str("FaceModelVersion", DEFAULT_MODEL_VERSION) or DEFAULT_MODEL_VERSION,
    )
    return {"FaceModelVersion": record.face_model_version}


async def delete_group(ctx: ActionContext, p: Params) -> dict[str, Any]:
    ctx.state.delete_group(p.req_str("GroupId"))
    return {}


async def get_group_list(ctx: ActionContext, p: Params) -> dict[str, Any]:
    page, total = ctx.state.group_page(p.opt_int("Offset", 0), p.opt_int("Limit", 10))
    return {"GroupInfos": [_group_info(g) for g in page], "GroupNum": total}


async def get_group_info(ctx: ActionContext, p: Params) -> dict[str, Any]:
    info = _group_info(ctx.state.group(p.req_str("GroupId")))
    del info["UpdateTimestamp"]
    return info


async def modify_group(ctx: ActionContext, p: Params) -> dict[str, Any]:
    ctx.state.modify_group(
        p.req_str("GroupId"),
        p.opt_str("GroupName"),
        p.opt_indexed_texts("GroupExDescriptionInfos", "GroupExDescriptionIndex", "GroupExDescription"),
        p.opt_str("Tag"),
    )
    return {}


# ---- persons ------------------------------------------------------------------------------------
async def create_person(ctx: ActionContext, p: Params) -> dict[str, Any]:
    state = ctx.state
    person_id, name = p.req_str("PersonId"), p.req_str("PersonName")
    group = state.check_new_person(p.req_str("GroupId"), person_id, name, p.opt_int("Gender", 0))
    descriptions = state.person_ex_descriptions(
        group,
        p.opt_indexed_texts("PersonExDescriptionInfos", "PersonExDescriptionIndex", "PersonExDescription"),
    )
    unique = p.opt_int("UniquePersonControl", 0)
    if unique not in (0, *UNIQUE_PERSON_THRESHOLDS):
        raise invalid_value("UniquePersonControlIllegal", "UniquePersonControl must be 0, 1, 2, 3 or 4.")
    level = _quality_level(p)
    photo = await _photo(ctx, p)
    face = photo.analysis.faces[0]
    _require_quality(face, level)
    if unique:
        similar = state.similar_person(group, face, UNIQUE_PERSON_THRESHOLDS[unique])
        if similar is not None:
            return {
                "FaceId": "",
                "FaceRect": face_rect(face.box),
                "SimilarPersonId": similar,
                "FaceModelVersion": group.face_model_version,
            }
    state.group(group.group_id)  # the group may have gone while the image downloaded
    _, record = state.add_person(group, person_id, name, p.opt_int("Gender", 0), descriptions, face, photo.image)
    return {
        "FaceId": record.face_id,
        "FaceRect": face_rect(face.box),
        "SimilarPersonId": "",
        "FaceModelVersion": group.face_model_version,
    }


async def delete_person(ctx: ActionContext, p: Params) -> dict[str, Any]:
    ctx.state.delete_person(p.req_str("PersonId"))
    return {}


async def delete_person_from_group(ctx: ActionContext, p: Params) -> dict[str, Any]:
    ctx.state.delete_person_from_group(p.req_str("PersonId"), p.req_str("GroupId"))
    return {}


async def copy_person(ctx: ActionContext, p: Params) -> dict[str, Any]:
    added = ctx.state.copy_person(p.req_str("PersonId"), p.str_list("GroupIds"))
    return {"SucGroupNum": len(added), "SucGroupIds": added}


async def get_person_base_info(ctx: ActionContext, p: Params) -> dict[str, Any]:
    person = ctx.state.person(p.req_str("PersonId"))
    return {"PersonName": person.name, "Gender": person.gender, "FaceIds": [f.face_id for f in person.faces]}


async def modify_person_base_info(ctx: ActionContext, p: Params) -> dict[str, Any]:
    gender = p.opt_int("Gender", 0) if p.has("Gender") else None
    ctx.state.modify_person(p.req_str("PersonId"), p.opt_str("PersonName"), gender)
    return {}


async def get_person_group_info(ctx: ActionContext, p: Params) -> dict[str, Any]:
    page, total = ctx.state.person_groups_page(p.req_str("PersonId"), p.opt_int("Offset", 0), p.opt_int("Limit", 10))
    return {
        "PersonGroupInfos": [{"GroupId": g, "PersonExDescriptions": list(d)} for g, d in page],
        "GroupNum": total,
        "FaceModelVersion": DEFAULT_MODEL_VERSION,
    }


async def modify_person_group_info(ctx: ActionContext, p: Params) -> dict[str, Any]:
    infos = p.opt_indexed_texts("PersonExDescriptionInfos", "PersonExDescriptionIndex", "PersonExDescription")
    if infos is None:
        raise EmulatorError("MissingParameter", "The request is missing `PersonExDescriptionInfos`.")
    ctx.state.modify_person_group_info(p.req_str("GroupId"), p.req_str("PersonId"), infos)
    return {}


async def get_person_list(ctx: ActionContext, p: Params) -> dict[str, Any]:
    group_id = p.req_str("GroupId")
    page, persons, faces = ctx.state.person_page(group_id, p.opt_int("Offset", 0), p.opt_int("Limit", 10))
    return {
        "PersonInfos": [
            {
                "PersonName": person.name,
                "PersonId": person.person_id,
                "Gender": person.gender,
                "PersonExDescriptions": list(person.groups.get(group_id, [])),
                "FaceIds": [f.face_id for f in person.faces],
                "CreationTimestamp": person.created_ms,
            }
            for person in page
        ],
        "PersonNum": persons,
        "FaceNum": faces,
        "FaceModelVersion": ctx.state.group(group_id).face_model_version,
    }


async def get_person_list_num(ctx: ActionContext, p: Params) -> dict[str, Any]:
    group = ctx.state.group(p.req_str("GroupId"))
    return {"PersonNum": len(group.members), "FaceNum": ctx.state.group_face_count(group)}


# ---- faces --------------------------------------------------------------------------------------
async def create_face(ctx: ActionContext, p: Params) -> dict[str, Any]:
    state = ctx.state
    person_id = p.req_str("PersonId")
    urls, images = p.opt_str_list("Urls"), p.opt_str_list("Images")
    sources: list[tuple[str | None, str | None]] = (
        [(None, u) for u in urls] if urls else [(i, None) for i in images or []]
    )
    threshold = p.opt_float("FaceMatchThreshold", DEFAULT_CREATE_FACE_THRESHOLD)
    if not 0.0 <= threshold <= 100.0:
        raise invalid_value("FaceMatchThresholdIllegal", "FaceMatchThreshold must be in [0, 100].")
    level = _quality_level(p)
    if not sources:
        raise invalid_value("ImageEmpty", "Either Images or Urls is required.")
    with state.creating_faces(person_id) as person:
        state.check_face_room(person, len(sources))
        await ctx.wait()
        ret_codes: list[int] = []
        added: list[tuple[int, str, FaceBox]] = []
        for index, (image_b64, url) in enumerate(sources):
            try:
                data = await _image_bytes(ctx, image_b64, url)
                face = state.model.analyze(data).faces[0]
            except ImageRejected as exc:
                ret_codes.append(RET_CODES.get(exc.code, -1102))
                continue
            except EmulatorError as exc:  # download failures
                ret_codes.append(RET_CODES.get(exc.code, -1102))
                continue
            except NoFaceFound:
                ret_codes.append(RET_CODES["NoFace"])
                continue
            if not _passes_quality(face, level):
                ret_codes.append(-1601)
                continue
            code = state.face_admission(person, face, threshold)
            if code:
                ret_codes.append(code)
                continue
            record = state.add_face(person, face, data)
            ret_codes.append(0)
            added.append((index, record.face_id, face.box))
    return {
        "SucFaceNum": len(added),
        "SucFaceIds": [face_id for _, face_id, _ in added],
        "RetCode": ret_codes,
        "SucIndexes": [index for index, _, _ in added],
        "SucFaceRects": [face_rect(box) for _, _, box in added],
        "FaceModelVersion": DEFAULT_MODEL_VERSION,
    }


async def delete_face(ctx: ActionContext, p: Params) -> dict[str, Any]:
    deleted = ctx.state.delete_faces(p.req_str("PersonId"), p.str_list("FaceIds"))
    return {"SucDeletedNum": len(deleted), "SucFaceIds": deleted}


# ---- analysis -----------------------------------------------------------------------------------
def _attributes(face: Face, wanted: bool) -> dict[str, Any]:
    a = face.attributes
    if not wanted:  # "此参数仍返回，但不具备参考意义"
        return {
            "Gender": 0,
            "Age": 0,
            "Expression": 0,
            "Glass": False,
            "Pitch": 0,
            "Yaw": 0,
            "Roll": 0,
            "Beauty": 0,
            "Hat": False,
            "Mask": False,
            "Hair": {"Length": 0, "Bang": 0, "Color": 0},
            "EyeOpen": False,
        }
    return {
        "Gender": a.gender,
        "Age": a.age,
        "Expression": a.expression,
        "Glass": a.glass,
        "Pitch": a.pitch,
        "Yaw": a.yaw,
        "Roll": a.roll,
        "Beauty": a.beauty,
        "Hat": a.hat,
        "Mask": a.mask,
        "Hair": shapes.hair(face),
        "EyeOpen": a.eye_open,
    }


def _quality(face: Face, wanted: bool) -> dict[str, Any] | None:
    if not wanted:
        return None
    q = face.quality
    return {
        "Score": q.score,
        "Sharpness": q.sharpness,
        "Brightness": q.brightness,
        "Completeness": shapes.completeness(face),
    }


async def detect_face(ctx: ActionContext, p: Params) -> dict[str, Any]:
    max_faces = p.opt_int("MaxFaceNum", 1)
    if not 1 <= max_faces <= 120:
        raise EmulatorError("LimitExceeded.ErrorFaceNumExceed", "MaxFaceNum must be in [1, 120].")
    need_attributes = p.opt_int("NeedFaceAttributes", 0) == 1
    need_quality = p.opt_int("NeedQualityDetection", 0) == 1
    photo = await _photo(ctx, p)
    faces = photo.analysis.faces[:max_faces]
    return {
        "ImageWidth": photo.analysis.width,
        "ImageHeight": photo.analysis.height,
        "FaceInfos": [
            {
                **face_rect(f.box),
                "FaceAttributesInfo": _attributes(f, need_attributes and i < 5),
                "FaceQualityInfo": _quality(f, need_quality),
            }
            for i, f in enumerate(faces)
        ],
        "FaceModelVersion": p.opt_str("FaceModelVersion", DEFAULT_MODEL_VERSION),
    }


async def analyze_face(ctx: ActionContext, p: Params) -> dict[str, Any]:
    mode = p.opt_int("Mode", 0)
    photo = await _photo(ctx, p)
    faces = photo.analysis.faces[:1] if mode == 1 else photo.analysis.faces[:10]
    return {
        "ImageWidth": photo.analysis.width,
        "ImageHeight": photo.analysis.height,
        "FaceShapeSet": [shapes.face_shape(f.box) for f in faces],
        "FaceModelVersion": p.opt_str("FaceModelVersion", DEFAULT_MODEL_VERSION),
    }


async def compare_face(ctx: ActionContext, p: Params) -> dict[str, Any]:
    level = _quality_level(p)
    a = (await _photo(ctx, p, "ImageA", "UrlA")).analysis.faces[0]
    b = (await _photo(ctx, p, "ImageB", "UrlB")).analysis.faces[0]
    _require_quality(a, level)
    _require_quality(b, level)
    return {
        "Score": round(ctx.state.model.score(a, b), 2),
        "FaceModelVersion": p.opt_str("FaceModelVersion", DEFAULT_MODEL_VERSION),
    }


def _person_version(state: EmulatorState, person: PersonRecord) -> str:
    for group_id in person.groups:
        return state.groups[group_id].face_model_version
    return DEFAULT_MODEL_VERSION


async def _verify(ctx: ActionContext, p: Params) -> dict[str, Any]:
    state = ctx.state
    person = state.person(p.req_str("PersonId"))
    level = _quality_level(p)
    face = (await _photo(ctx, p)).analysis.faces[0]
    _require_quality(face, level)
    person = state.person(person.person_id)
    score = round(max(state.model.score(face, f.face) for f in person.faces), 2)
    return {
        "Score": score,
        "IsMatch": score >= VERIFY_MATCH_SCORE,
        "FaceModelVersion": _person_version(state, person),
    }


async def _search(ctx: ActionContext, p: Params, *, by_face: bool) -> dict[str, Any]:
    state = ctx.state
    groups = state.search_groups(p.str_list("GroupIds"))
    max_faces = p.opt_int("MaxFaceNum", 1)
    if not 1 <= max_faces <= 10:
        raise failed("SearchFacesExceed", "MaxFaceNum must be in [1, 10].")
    max_persons = p.opt_int("MaxPersonNum", 5)
    if not 1 <= max_persons <= 100:
        raise invalid_value("SearchPersonsExceed", "MaxPersonNum must be in [1, 100].")
    threshold = p.opt_float("FaceMatchThreshold", 0.0)
    if not 0.0 <= threshold < 100.0:
        raise invalid_value("FaceMatchThresholdIllegal", "FaceMatchThreshold must be in [0, 100).")
    need_info = p.opt_int("NeedPersonInfo", 0) == 1
    level = _quality_level(p)
    persons = state.members(groups)
    face_total = sum(len(person.faces) for person in persons)
    if face_total == 0:
        raise invalid_value("NoFaceInGroups", "The groups searched hold no face.")
    photo = await _photo(ctx, p)
    persons = [person for person in state.members(groups) if person.faces]
    results = []
    for face in photo.analysis.faces[:max_faces]:
        if not _passes_quality(face, level):
            results.append({"Candidates": [], "FaceRect": face_rect(face.box), "RetCode": -1601})
            continue
        matches = [m for m in state.best_matches(face, persons) if m.score >= threshold][:max_persons]
        results.append(
            {
                "Candidates": [_candidate(m, with_face=by_face, with_info=need_info) for m in matches],
                "FaceRect": face_rect(face.box),
                "RetCode": 0,
            }
        )
    version = groups[0].face_model_version
    if by_face:
        return {"Results": results, "FaceNum": face_total, "FaceModelVersion": version}
    return {"Results": results, "PersonNum": len(persons), "FaceModelVersion": version}


async def search_faces(ctx: ActionContext, p: Params) -> dict[str, Any]:
    return await _search(ctx, p, by_face=True)


async def search_persons(ctx: ActionContext, p: Params) -> dict[str, Any]:
    return await _search(ctx, p, by_face=False)


def _names(*names: str) -> frozenset[str]:
    return frozenset(names)


_SEARCH = _names(
    "GroupIds",
    "Image",
    "Url",
    "MaxFaceNum",
    "MinFaceSize",
    "MaxPersonNum",
    "NeedPersonInfo",
    "QualityControl",
    "FaceMatchThreshold",
    "NeedRotateDetection",
)
_VERIFY = _names("PersonId", "Image", "Url", "QualityControl", "NeedRotateDetection")

ACTIONS: dict[str, Action] = {
    "CreateGroup": Action(
        create_group, _names("GroupName", "GroupId", "GroupExDescriptions", "Tag", "FaceModelVersion")
    ),
    "DeleteGroup": Action(delete_group, _names("GroupId")),
    "GetGroupList": Action(get_group_list, _names("Offset", "Limit")),
    "GetGroupInfo": Action(get_group_info, _names("GroupId")),
    "ModifyGroup": Action(modify_group, _names("GroupId", "GroupName", "GroupExDescriptionInfos", "Tag")),
    "CreatePerson": Action(
        create_person,
        _names(
            "GroupId",
            "PersonName",
            "PersonId",
            "Gender",
            "PersonExDescriptionInfos",
            "Image",
            "Url",
            "UniquePersonControl",
            "QualityControl",
            "NeedRotateDetection",
        ),
    ),
    "DeletePerson": Action(delete_person, _names("PersonId")),
    "DeletePersonFromGroup": Action(delete_person_from_group, _names("PersonId", "GroupId")),
    "CopyPerson": Action(copy_person, _names("PersonId", "GroupIds")),
    "GetPersonBaseInfo": Action(get_person_base_info, _names("PersonId")),
    "ModifyPersonBaseInfo": Action(modify_person_base_info, _names("PersonId", "PersonName", "Gender")),
    "GetPersonGroupInfo": Action(get_person_group_info, _names("PersonId", "Offset", "Limit")),
    "ModifyPersonGroupInfo": Action(
        modify_person_group_info, _names("GroupId", "PersonId", "PersonExDescriptionInfos")
    ),
    "GetPersonList": Action(get_person_list, _names("GroupId", "Offset", "Limit")),
    "GetPersonListNum": Action(get_person_list_num, _names("GroupId")),
    "CreateFace": Action(
        create_face,
        _names("PersonId", "Images", "Urls", "FaceMatchThreshold", "QualityControl", "NeedRotateDetection"),
        waits_itself=True,
    ),
    "DeleteFace": Action(delete_face, _names("PersonId", "FaceIds")),
    "DetectFace": Action(
        detect_face,
        _names(
            "MaxFaceNum",
            "MinFaceSize",
            "Image",
            "Url",
            "NeedFaceAttributes",
            "NeedQualityDetection",
            "FaceModelVersion",
            "NeedRotateDetection",
        ),
    ),
    "AnalyzeFace": Action(analyze_face, _names("Mode", "Image", "Url", "FaceModelVersion", "NeedRotateDetection")),
    "CompareFace": Action(
        compare_face,
        _names(
            "ImageA",
            "ImageB",
            "UrlA",
            "UrlB",
            "FaceModelVersion",
            "QualityControl",
            "NeedRotateDetection",
            "FaceMatchingStrategy",
        ),
    ),
    "VerifyFace": Action(_verify, _VERIFY),
    "VerifyPerson": Action(_verify, _VERIFY),
    "SearchFaces": Action(search_faces, _SEARCH),
    "SearchPersons": Action(search_persons, _SEARCH),
}
