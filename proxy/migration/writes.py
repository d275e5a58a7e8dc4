"""A write owed to the other backend, as the outbox keeps it: JSON payload + images as blobs, and back.

Also builds the v1 request a replay to the legacy backend sends (the proxy signs it with the
tenant's own legacy key): JSON for delperson/delface/setinfo and for images given by url,
multipart (``image`` / ``images[n]`` parts, like the legacy SDK) for images given as bytes.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from proxy.domain.requests import AddFace, DelFace, DelPerson, GetInfo, ImageSource, NewPerson, SetInfo, Target
from proxy.v1.auth import LegacyKey, sign

WriteRequest = NewPerson | DelPerson | AddFace | DelFace | SetInfo
SERVICE_HOST = "service.image.myqcloud.com"
REPLAY_SIGNATURE_S = 300


@dataclass(frozen=True)
class OwedWrite:
    """What the outbox stores for one write: payload (JSON-able, no image bytes) and the images by digest."""

    payload: dict[str, Any]
    blobs: dict[str, bytes]


def _image(image: ImageSource, blobs: dict[str, bytes]) -> dict[str, Any]:
    if image.url is not None:
        return {"url": image.url}
    assert image.data is not None
    data = bytes(image.data)
    digest = hashlib.sha256(data).hexdigest()
    blobs[digest] = data
    return {"blob": digest}


def _source(item: Mapping[str, Any], blobs: Mapping[str, bytes]) -> ImageSource:
    if "url" in item:
        return ImageSource(url=str(item["url"]))
    data = blobs.get(str(item["blob"]))
    if data is None:
        raise LookupError(f"image blob {item['blob']} is gone")
    return ImageSource(data=data)


def encode(target: Target, request: WriteRequest, served_face_ids: tuple[str | None, ...]) -> OwedWrite:
    """``served_face_ids``: per input image, the face id the serving side gave it (None where it refused)."""
    blobs: dict[str, bytes] = {}
    fields: dict[str, Any]
    if isinstance(request, NewPerson):
        fields = {
            "person_id": request.person_id,
            "group_ids": list(request.group_ids),
            "image": _image(request.image, blobs),
            "person_name": request.person_name,
            "tag": request.tag,
        }
    elif isinstance(request, AddFace):
        fields = {
            "person_id": request.person_id,
            "images": [_image(i, blobs) for i in request.images],
            "tag": request.tag,
        }
    elif isinstance(request, DelFace):
        fields = {"person_id": request.person_id, "face_ids": list(request.face_ids)}
    elif isinstance(request, SetInfo):
        fields = {"person_id": request.person_id, "person_name": request.person_name, "tag": request.tag}
    else:
        fields = {"person_id": request.person_id}
    payload = {
        "appid": target.appid,
        "bucket": target.bucket,
        "request": fields,
        "served_face_ids": list(served_face_ids),
    }
    return OwedWrite(payload=payload, blobs=blobs)


def decode(op: str, payload: Mapping[str, Any], blobs: Mapping[str, bytes]) -> tuple[Target, WriteRequest]:
    """The target and typed request of a stored write; LookupError when an image blob is gone."""
    target = Target(appid=str(payload["appid"]), bucket=payload.get("bucket"))
    f = payload["request"]
    request: WriteRequest
    if op == "newperson":
        request = NewPerson(
            person_id=f["person_id"],
            group_ids=tuple(f["group_ids"]),
            image=_source(f["image"], blobs),
            person_name=f["person_name"],
            tag=f["tag"],
        )
    elif op == "addface":
        request = AddFace(person_id=f["person_id"], images=tuple(_source(i, blobs) for i in f["images"]), tag=f["tag"])
    elif op == "delface":
        request = DelFace(person_id=f["person_id"], face_ids=tuple(f["face_ids"]))
    elif op == "setinfo":
        request = SetInfo(person_id=f["person_id"], person_name=f["person_name"], tag=f["tag"])
    elif op == "delperson":
        request = DelPerson(person_id=f["person_id"])
    else:
        raise ValueError(f"not a write op: {op!r}")
    return target, request


def blob_digests(payload: Mapping[str, Any]) -> list[str]:
    f = payload["request"]
    images = [f["image"]] if "image" in f else list(f.get("images", ()))
    return [str(i["blob"]) for i in images if "blob" in i]


@dataclass(frozen=True)
class V1Body:
    """A v1 request ready to send: body bytes and headers (signed)."""

    body: bytes
    headers: dict[str, str]


def signature(key: LegacyKey, target: Target, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    bucket = f"&b={target.bucket}" if target.bucket else ""
    plain = f"a={target.appid}{bucket}&k={key.secret_id}&e={issued + REPLAY_SIGNATURE_S}&t={issued}"
    return sign(key, f"{plain}&r={secrets.randbelow(10**9)}&f=")


def v1_body(key: LegacyKey, target: Target, request: WriteRequest | GetInfo) -> V1Body:
    """The v1 request for ``request`` (a write, or the router's getinfo probe), signed with the tenant's legacy key."""
    fields: dict[str, Any] = {"appid": target.appid}
    if target.bucket:
        fields["bucket"] = target.bucket
    images: list[tuple[str, bytes]] = []
    if isinstance(request, NewPerson):
        fields.update(person_id=request.person_id, group_ids=list(request.group_ids))
        _optional(fields, person_name=request.person_name, tag=request.tag)
        if request.image.url is not None:
            fields["url"] = request.image.url
        else:
            images.append(("image", bytes(request.image.data or b"")))
    elif isinstance(request, AddFace):
        fields["person_id"] = request.person_id
        _optional(fields, tag=request.tag)
        if all(i.url is not None for i in request.images):
            fields["urls"] = [i.url for i in request.images]
        else:
            images += [(f"images[{n}]", bytes(i.data or b"")) for n, i in enumerate(request.images)]
    elif isinstance(request, DelFace):
        fields.update(person_id=request.person_id, face_ids=list(request.face_ids))
    elif isinstance(request, SetInfo):
        fields["person_id"] = request.person_id
        _optional(fields, person_name=request.person_name, tag=request.tag)
    else:
        fields["person_id"] = request.person_id
    headers = {"Authorization": signature(key, target), "Host": SERVICE_HOST}
    if not images:
        headers["Content-Type"] = "application/json"
        return V1Body(json.dumps(fields, ensure_ascii=False).encode("utf-8"), headers)
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in fields.items():
        values = value if isinstance(value, list) else [value]
        names = [f"{name}[{n}]" for n in range(len(values))] if isinstance(value, list) else [name]
        for part_name, text in zip(names, values, strict=True):
            parts.append(_part(boundary, part_name, str(text).encode("utf-8"), None))
    for name, data in images:
        parts.append(_part(boundary, name, data, "image.jpg"))
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    return V1Body(body, headers)


def _optional(fields: dict[str, Any], **values: str | None) -> None:
    fields.update({k: v for k, v in values.items() if v is not None})


def _part(boundary: str, name: str, content: bytes, filename: str | None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
    if filename:
        head += "Content-Type: application/octet-stream\r\n"
    return head.encode("utf-8") + b"\r\n" + content + b"\r\n"
