"""Field mapping shared by the families: images to v3 parameters, DetectFace to FaceAttributes, ret codes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from proxy.domain.faces import NO_ATTRIBUTES, FaceAttributes
from proxy.domain.requests import ImageSource
from proxy.translate.v3api import Params, Reply


def image_params(image: ImageSource, *, suffix: str = "") -> Params:
    """A v1 image (url wins when both are given, as in v1) as v3 `Url`/`Image` (+ `A`/`B` suffix).

    The image stays binary: the v3 client sends binary parameters as base64 (proxy.v3.body).
    """
    if image.url:
        return {"Url" + suffix: image.url}
    return {"Image" + suffix: image.data}


def detect_face_params(image: ImageSource, *, attributes: bool) -> Params:
    """DetectFace of the largest face in `image`, with its attributes when asked."""
    params = image_params(image)
    params["MaxFaceNum"] = 1
    if attributes:
        params["NeedFaceAttributes"] = 1
    return params


def face_attributes(face_info: Mapping[str, Any]) -> FaceAttributes:
    """The v1 FaceItem attributes (getfaceinfo) from one v3 DetectFace `FaceInfo`."""
    attrs: Mapping[str, Any] = face_info.get("FaceAttributesInfo") or {}
    return FaceAttributes(
        x=int(face_info.get("X", 0)),
        y=int(face_info.get("Y", 0)),
        width=float(face_info.get("Width", 0)),
        height=float(face_info.get("Height", 0)),
        # v3: Gender 0..49 female, 50..100 male — the same scale as v1's 0 (female) .. 100 (male)
        gender=int(attrs.get("Gender", 0)),
        age=int(attrs.get("Age", 0)),
        expression=int(attrs.get("Expression", 0)),
        glass=bool(attrs.get("Glass", False)),
        pitch=int(attrs.get("Pitch", 0)),
        yaw=int(attrs.get("Yaw", 0)),
        roll=int(attrs.get("Roll", 0)),
    )


def detected_attributes(reply: Reply) -> FaceAttributes:
    """The attributes of the face a DetectFace found (zeros when it found none)."""
    infos = reply.data.get("FaceInfos") or []
    return face_attributes(infos[0]) if infos else NO_ATTRIBUTES


def face_ids(reply: Reply) -> tuple[str, ...]:
    """GetPersonBaseInfo's FaceIds."""
    return tuple(str(f) for f in reply.data.get("FaceIds") or ())


# v3 CreateFace per-image RetCode -> v1 addface ret_code (see CreateFaceResponse.RetCode)
CREATE_FACE_RET_CODES: Mapping[int, int] = {
    0: 0,
    -1101: -1101,  # no face detected
    -1102: -1102,  # image decode failed
    -1109: -1400,  # image too large or too small: v1's "illegal image format" is the closest
    -1601: -1101,  # quality control refused the face: v1 had no quality gate, "face detect failed"
    -1604: -1103,  # below FaceMatchThreshold vs the person's faces (the proxy never sets one)
}
UNKNOWN_RET_CODE = -1103  # v1 "feature processing failed"


def create_face_ret_code(v3_code: int) -> int:
    return CREATE_FACE_RET_CODES.get(v3_code, UNKNOWN_RET_CODE)
