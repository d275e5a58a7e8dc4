"""v1 wire format: which host was addressed, typed access to a body's fields, and the JSON replies.

Bodies are read by the proxy's own v1 body reader (`proxy.v1.form`: JSON or multipart, the legacy
SDK's file parts, ``name[n]`` arrays, 21 for a malformed body, 23 past the size limit); the field
rules here are the legacy service's (002_): required fields -1301, ids checked for v1's special
characters (-1313) and length (-1304), the url winning over the binary image.
"""

from __future__ import annotations

import enum
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from proxy.legacy import exceptions as errors
from proxy.legacy.exceptions import V1Error, http_status_for
from proxy.v1.form import V1Form

SERVICE_HOST = "service.image.myqcloud.com"
RECOGNITION_HOST = "recognition.image.myqcloud.com"
CONTENT_TYPE = "application/json"
FORBIDDEN_ID_CHARS = frozenset(" /\t\n\r\x0b\x0c\x00")
MAX_ID_BYTES = 64
MAX_NAME_BYTES = 64
MAX_TAG_BYTES = 256


class Host(enum.Enum):
    """The two v1 hosts: the full face API, and the later bucket-less compare (000_/003_)."""

    SERVICE = SERVICE_HOST
    RECOGNITION = RECOGNITION_HOST


def host_of(request: web.Request) -> Host:
    """recognition.image.myqcloud.com by its Host header; anything else is the service host."""
    name = (request.headers.get("Host") or "").strip().lower()
    name = name.rsplit(":", 1)[0] if not name.endswith("]") else name
    return Host.RECOGNITION if name == RECOGNITION_HOST else Host.SERVICE


def new_session_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class ImageInput:
    """One image as sent: a url or bytes (the url wins when both are given)."""

    url: str | None
    data: bytes | None
    fail_flag: int | None = None  # compare: which image (1 or 2) an error is about

    def __repr__(self) -> str:
        return f"ImageInput(url={self.url!r}, data_bytes={None if self.data is None else len(self.data)})"


class Fields:
    """Typed, checked access to one parsed body (raw values at the wire edge only)."""

    __slots__ = ("_form",)

    def __init__(self, form: V1Form) -> None:
        self._form = form

    def scalar(self, name: str) -> str | None:
        form = self._form
        if name in form.arrays or name in form.blobs or name in form.blob_arrays:
            raise V1Error(21, f"invalid parameter: {name} must be a single string")
        return form.scalars.get(name)

    def required(self, name: str) -> str:
        value = self.scalar(name)
        if not value:
            raise errors.param_empty(name)
        return value

    def required_id(self, name: str) -> str:
        return _check_id(name, self.required(name))

    def optional_text(self, name: str, limit: int) -> str | None:
        value = self.scalar(name)
        if value is not None and len(value.encode("utf-8")) > limit:
            raise errors.too_long(name, limit)
        return value

    def id_list(self, name: str) -> list[str]:
        form = self._form
        if name in form.blobs or name in form.blob_arrays:
            raise V1Error(21, f"invalid parameter: {name} must be text")
        values = list(form.arrays.get(name, ()))
        single = form.scalars.get(name)
        if single is not None:
            values.append(single)
        if not values or any(not v for v in values):
            raise errors.param_empty(name)
        return [_check_id(name, v) for v in values]

    def image(self, url_name: str, blob_name: str, *, fail_flag: int | None = None) -> ImageInput:
        url = self.scalar(url_name)
        if url:
            return ImageInput(url=url, data=None, fail_flag=fail_flag)
        form = self._form
        if blob_name in form.scalars or blob_name in form.arrays or blob_name in form.blob_arrays:
            raise V1Error(21, f"invalid parameter: {blob_name} must be one image", fail_flag=fail_flag)
        data = form.blobs.get(blob_name)
        if not data:
            raise V1Error(-1300, f"image is empty: give {url_name} or {blob_name}", fail_flag=fail_flag)
        return ImageInput(url=None, data=bytes(data), fail_flag=fail_flag)

    def images(self) -> list[ImageInput]:
        form = self._form
        urls = list(form.arrays.get("urls", ()))
        if "urls" in form.scalars:
            urls.append(form.scalars["urls"])
        if urls:
            if any(not u for u in urls):
                raise V1Error(-1300, "image is empty: urls holds an empty url")
            return [ImageInput(url=u, data=None) for u in urls]
        if "images" in form.blobs or "images" in form.scalars:
            raise V1Error(21, "invalid parameter: images are sent as images[0], images[1], ...")
        datas = form.blob_arrays.get("images", ())
        if not datas:
            raise V1Error(-1300, "image is empty: give urls or images")
        if any(not d for d in datas):
            raise V1Error(-1300, "image is empty: images holds a 0-byte image")
        return [ImageInput(url=None, data=bytes(d)) for d in datas]


def _check_id(name: str, value: str) -> str:
    if FORBIDDEN_ID_CHARS.intersection(value):
        raise errors.invalid_chars(name)
    if len(value.encode("utf-8")) > MAX_ID_BYTES:
        raise errors.too_long(name, MAX_ID_BYTES)
    return value


def _json_reply(body: Mapping[str, Any], status: int) -> web.Response:
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    response = web.Response(body=text.encode("utf-8"), status=status)
    response.headers["Content-Type"] = CONTENT_TYPE
    return response


def success(data: Mapping[str, Any]) -> web.Response:
    """``{"data": {...}, "code": 0, "message": "OK"}`` with HTTP 200 (the seeds' samples)."""
    return _json_reply({"data": dict(data), "code": 0, "message": "OK"}, 200)


def failure(error: V1Error, session_id: str) -> web.Response:
    """``{"data": {"session_id"[, "fail_flag"]}, "code", "message"}`` with the code's HTTP status."""
    data: dict[str, Any] = {"session_id": session_id}
    if error.fail_flag is not None:
        data["fail_flag"] = int(error.fail_flag)
    return _json_reply({"data": data, "code": int(error.code), "message": error.message}, http_status_for(error.code))
