"""v1 inputs to v3 parameters and v3 replies to v1 values: the field mapping, pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def image_params(
    url: str | None, data: bytes | memoryview | None, *, suffix: str = ""
) -> dict[str, str | bytes | memoryview]:
    """A v1 image (url wins when both are given, as in v1) as v3 `Url`/`Image` (+ `A`/`B` suffix).

    The image stays binary: the v3 client sends binary parameters as base64 (proxy.v3.body).
    """
    if url:
        return {"Url" + suffix: url}
    assert data is not None, "the v1 layer guarantees an image or a url"
    return {"Image" + suffix: data}


def face_attributes(face_info: Mapping[str, Any]) -> dict[str, Any]:
    """The v1 FaceItem fields (getfaceinfo) from one v3 DetectFace `FaceInfo`."""
    attrs: Mapping[str, Any] = face_info.get("FaceAttributesInfo") or {}
    return {
        "x": int(face_info.get("X", 0)),
        "y": int(face_info.get("Y", 0)),
        "width": float(face_info.get("Width", 0)),
        "height": float(face_info.get("Height", 0)),
        # v3: Gender 0..49 female, 50..100 male — the same scale as v1's 0 (female) .. 100 (male)
        "gender": int(attrs.get("Gender", 0)),
        "age": int(attrs.get("Age", 0)),
        "expression": int(attrs.get("Expression", 0)),
        "glass": bool(attrs.get("Glass", False)),
        "pitch": int(attrs.get("Pitch", 0)),
        "yaw": int(attrs.get("Yaw", 0)),
        "roll": int(attrs.get("Roll", 0)),
    }


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
