"""An image as the legacy service sees it: fetched (url) or given, checked, measured; failures as v1 codes.

Codes: url download failure -1308; GIF, WebP, TIFF and other formats v1 did not take -1400;
undecodable bytes -1102; a decodable image without a face (or one too small to hold one) -1101.
Several faces in one image: the largest is used (newperson, addface, verify, identify, compare).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import aiohttp

from proxy.emulator.downloads import fetch_image
from proxy.emulator.exceptions import EmulatorError
from proxy.emulator.facemodel import Face, FaceModel, NoFaceFound
from proxy.emulator.images import IMAGE_RESOLUTION_TOO_SMALL, ImageRejected
from proxy.legacy.exceptions import V1Error
from proxy.legacy.scoring import image_digest
from proxy.legacy.wire import ImageInput

_ACCEPTED_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"BM")


@dataclass(frozen=True)
class MeasuredImage:
    """The bytes of one image, its digest (the score noise key) and its largest face."""

    data: bytes = field(repr=False)
    digest: bytes = field(repr=False)
    face: Face


async def image_bytes(session: aiohttp.ClientSession, image: ImageInput) -> bytes:
    if image.url is None:
        assert image.data is not None
        return image.data
    try:
        return await fetch_image(session, image.url)
    except EmulatorError:
        raise V1Error(-1308, "url image download failed", fail_flag=image.fail_flag) from None


def measure(model: FaceModel, data: bytes, fail_flag: int | None = None) -> MeasuredImage:
    """The largest face in ``data``; V1Error -1400, -1102 or -1101."""
    if not data.startswith(_ACCEPTED_MAGIC):
        if _looks_like_image(data):
            raise V1Error(-1400, "illegal image format: use JPG, PNG or BMP", fail_flag=fail_flag)
        raise V1Error(-1102, "image decoding failed", fail_flag=fail_flag)
    try:
        analysis = model.analyze(data)
    except NoFaceFound:
        raise V1Error(-1101, "face detection failed: no face in the image", fail_flag=fail_flag) from None
    except ImageRejected as exc:
        if exc.code == IMAGE_RESOLUTION_TOO_SMALL:
            raise V1Error(-1101, "face detection failed: the image is too small", fail_flag=fail_flag) from None
        raise V1Error(-1102, "image decoding failed", fail_flag=fail_flag) from None
    return MeasuredImage(data=data, digest=image_digest(data), face=analysis.faces[0])


async def load(session: aiohttp.ClientSession, model: FaceModel, image: ImageInput) -> MeasuredImage:
    return measure(model, await image_bytes(session, image), image.fail_flag)


def _looks_like_image(data: bytes) -> bool:
    head = data[:12]
    return (
        head.startswith((b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*"))
        or (head.startswith(b"RIFF") and head[8:12] == b"WEBP")
        or head[4:12] in (b"ftypheic", b"ftypavif", b"ftypmif1")
    )
