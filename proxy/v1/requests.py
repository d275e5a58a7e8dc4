"""v1 request parsing: one parser per op, `V1Form` -> the op's typed request (types in proxy.domain.requests).

Field rules (seed 002_ and the v1 code table; where the seeds are silent, chosen here):
- ``appid`` is required (missing/empty -> -1301); ``bucket`` is optional everywhere ("" is None),
  because the bucket-less compare host (seeds 000_/003_) and repointed apps must both work.
- A required id or text that is missing or empty -> -1301 naming the field; an id containing a
  space, ``/``, tab, CR, LF, vertical tab, form feed or NUL -> -1313 (v1 refused those; dots,
  ``#``, ``@``, ``%``, CJK... are kept verbatim for the id codec to round-trip).
- A field of the wrong shape (an array where one value is expected) -> 21.
- Images: the url wins when both url and binary are given (v1 rule); no image at all, an empty
  url or a 0-byte image -> -1300 (compare adds ``fail_flag`` 1 or 2 for the image at fault).
- Arrays (``group_ids``, ``face_ids``, ``urls``) also accept a single string.
- Optional texts (``person_name``, ``tag``) are passed through as sent; "" stays "".
"""

from __future__ import annotations

from proxy.domain.requests import (
    AddFace,
    Compare,
    DelFace,
    DelPerson,
    GetFaceIds,
    GetFaceInfo,
    GetGroupIds,
    GetInfo,
    GetPersonIds,
    Identify,
    ImageSource,
    NewPerson,
    SetInfo,
    Target,
    Verify,
)
from proxy.v1.errors import V1Error
from proxy.v1.form import Blob, V1Form

__all__ = [
    "AddFace",
    "Compare",
    "DelFace",
    "DelPerson",
    "GetFaceIds",
    "GetFaceInfo",
    "GetGroupIds",
    "GetInfo",
    "GetPersonIds",
    "Identify",
    "ImageSource",
    "NewPerson",
    "SetInfo",
    "Target",
    "Verify",
    "build_target",
    "unknown_op",
]


FORBIDDEN_ID_CHARS = frozenset(" /\t\n\r\x0b\x0c\x00")

# ---- field readers ----------------------------------------------------------------------------


def _scalar(form: V1Form, name: str) -> str | None:
    if name in form.arrays or name in form.blob_arrays or name in form.blobs:
        raise V1Error(21, f"invalid parameter: field {name!r} must be a single string")
    return form.scalars.get(name)


def _check_id(name: str, value: str) -> str:
    bad = sorted(FORBIDDEN_ID_CHARS.intersection(value))
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        raise V1Error(-1313, f"invalid parameter: {name} contains {shown}")
    return value


def _required(form: V1Form, name: str) -> str:
    value = _scalar(form, name)
    if not value:
        raise V1Error(-1301, f"parameter is empty: {name}")
    return value


def _required_id(form: V1Form, name: str) -> str:
    return _check_id(name, _required(form, name))


def _optional(form: V1Form, name: str) -> str | None:
    return _scalar(form, name)


def _list(form: V1Form, name: str) -> tuple[str, ...]:
    if name in form.blobs or name in form.blob_arrays:
        raise V1Error(21, f"invalid parameter: field {name!r} must be text")
    if name in form.arrays:
        return form.arrays[name]
    single = form.scalars.get(name)
    return () if single is None else (single,)


def _id_list(form: V1Form, name: str) -> tuple[str, ...]:
    values = _list(form, name)
    if not values or any(not v for v in values):
        raise V1Error(-1301, f"parameter is empty: {name}")
    return tuple(_check_id(name, v) for v in values)


GIF_MAGIC = (b"GIF87a", b"GIF89a")


def _check_format(data: Blob, fail_flag: int | None) -> None:
    """v1 refused animated formats up front: "不支持 .gif这类的动图" (-1400)."""
    if data[:6] in GIF_MAGIC:
        raise V1Error(-1400, "illegal image format: GIF is not supported", fail_flag=fail_flag)


def _image(form: V1Form, url_name: str, blob_name: str, *, fail_flag: int | None = None) -> ImageSource:
    url = _scalar(form, url_name)
    if url:
        return ImageSource(url=url)
    if blob_name in form.scalars or blob_name in form.arrays or blob_name in form.blob_arrays:
        raise V1Error(21, f"invalid parameter: field {blob_name!r} must be one image", fail_flag=fail_flag)
    data = form.blobs.get(blob_name)
    if data:
        _check_format(data, fail_flag)
        return ImageSource(data=data)
    raise V1Error(-1300, f"image is empty: give {url_name} or {blob_name}", fail_flag=fail_flag)


def _images(form: V1Form) -> tuple[ImageSource, ...]:
    urls = _list(form, "urls")
    if urls:
        if any(not url for url in urls):
            raise V1Error(-1300, "image is empty: urls contains an empty url")
        return tuple(ImageSource(url=url) for url in urls)
    if "images" in form.blobs or "images" in form.scalars:
        raise V1Error(21, "invalid parameter: images are sent as images[0], images[1], ...")
    datas = form.blob_arrays.get("images", ())
    if not datas:
        raise V1Error(-1300, "image is empty: give urls or images")
    if any(not data for data in datas):
        raise V1Error(-1300, "image is empty: images contains a 0-byte image")
    for data in datas:
        _check_format(data, None)
    return tuple(ImageSource(data=data) for data in datas)


# ---- per-op parsers: V1Form -> the typed request (proxy.handlers.ops pairs each with its handler) ----


def parse_newperson(form: V1Form) -> NewPerson:
    return NewPerson(
        person_id=_required_id(form, "person_id"),
        group_ids=_id_list(form, "group_ids"),
        image=_image(form, "url", "image"),
        person_name=_optional(form, "person_name"),
        tag=_optional(form, "tag"),
    )


def parse_delperson(form: V1Form) -> DelPerson:
    return DelPerson(person_id=_required_id(form, "person_id"))


def parse_addface(form: V1Form) -> AddFace:
    return AddFace(
        person_id=_required_id(form, "person_id"),
        images=_images(form),
        tag=_optional(form, "tag"),
    )


def parse_delface(form: V1Form) -> DelFace:
    return DelFace(person_id=_required_id(form, "person_id"), face_ids=_id_list(form, "face_ids"))


def parse_setinfo(form: V1Form) -> SetInfo:
    return SetInfo(
        person_id=_required_id(form, "person_id"),
        person_name=_optional(form, "person_name"),
        tag=_optional(form, "tag"),
    )


def parse_getinfo(form: V1Form) -> GetInfo:
    return GetInfo(person_id=_required_id(form, "person_id"))


def parse_getgroupids(form: V1Form) -> GetGroupIds:
    return GetGroupIds()


def parse_getpersonids(form: V1Form) -> GetPersonIds:
    return GetPersonIds(group_id=_required_id(form, "group_id"))


def parse_getfaceids(form: V1Form) -> GetFaceIds:
    return GetFaceIds(person_id=_required_id(form, "person_id"))


def parse_getfaceinfo(form: V1Form) -> GetFaceInfo:
    return GetFaceInfo(face_id=_required_id(form, "face_id"))


def parse_verify(form: V1Form) -> Verify:
    return Verify(person_id=_required_id(form, "person_id"), image=_image(form, "url", "image"))


def parse_identify(form: V1Form) -> Identify:
    return Identify(group_id=_required_id(form, "group_id"), image=_image(form, "url", "image"))


def parse_compare(form: V1Form) -> Compare:
    return Compare(
        image_a=_image(form, "urlA", "imageA", fail_flag=1),
        image_b=_image(form, "urlB", "imageB", fail_flag=2),
    )


def unknown_op(op: str) -> V1Error:
    shown = op if len(op) <= 64 else op[:64] + "..."
    return V1Error(3, f"bad request: unknown op {shown!r}")


def build_target(form: V1Form) -> Target:
    """The appid (required, -1301) and bucket (optional) a request addresses."""
    appid = _required(form, "appid")
    return Target(appid=appid, bucket=_scalar(form, "bucket") or None)
