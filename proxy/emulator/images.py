"""v3's documented image rules (size, format, resolution), each failure with v3's own error code.

From the SDK's `DetectFaceRequest.Image` docs: base64 at most 5 MB; JPG long side at most 4000
pixels, other formats at most 2000; short side at least 64; PNG, JPG, JPEG and BMP only, no GIF.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import warnings
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, UnidentifiedImageError

from proxy.emulator.exceptions import EmulatorError

MAX_BASE64_CHARS = 5 * 1024 * 1024
MIN_SHORT_SIDE = 64
MAX_LONG_SIDE_JPEG = 4000
MAX_LONG_SIDE_OTHER = 2000
# Pillow format name -> the format we report; MPO is a JPEG with extra frames (phone cameras).
ACCEPTED_FORMATS: dict[str, str] = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "BMP": "BMP"}
# The model works on a downscaled copy whose long side is at most this.
WORKING_LONG_SIDE = 640

IMAGE_SIZE_EXCEED = "FailedOperation.ImageSizeExceed"
IMAGE_EMPTY = "InvalidParameterValue.ImageEmpty"
IMAGE_DECODE_FAILED = "FailedOperation.ImageDecodeFailed"
IMAGE_RESOLUTION_TOO_SMALL = "FailedOperation.ImageResolutionTooSmall"
IMAGE_RESOLUTION_EXCEED = "FailedOperation.ImageResolutionExceed"


class ImageRejected(EmulatorError):
    """The image breaks one of v3's image rules; `code` is the v3 error code."""


@dataclass(frozen=True)
class DecodedImage:
    """A checked image: its true format and size, plus a small RGB copy for the model."""

    format: str  # "JPEG" | "PNG" | "BMP"
    width: int
    height: int
    rgb: np.ndarray = field(compare=False, repr=False)  # uint8 (h, w, 3), long side <= WORKING_LONG_SIDE
    scale: float = 1.0  # working pixels per original pixel


def decode_base64_image(image_b64: str) -> bytes:
    """The image bytes inside v3's `Image` parameter, or ImageRejected."""
    if not image_b64:
        raise ImageRejected(IMAGE_EMPTY, "The image is empty.")
    if len(image_b64) > MAX_BASE64_CHARS:
        raise ImageRejected(IMAGE_SIZE_EXCEED, "The base64-encoded image exceeds 5 MB.")
    try:
        data = base64.b64decode(image_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageRejected(IMAGE_DECODE_FAILED, "The image is not valid base64.") from exc
    if not data:
        raise ImageRejected(IMAGE_EMPTY, "The image is empty.")
    return data


def open_image(data: bytes) -> DecodedImage:
    """Check `data` against v3's image rules and decode a working copy, or raise ImageRejected."""
    if not data:
        raise ImageRejected(IMAGE_DECODE_FAILED, "The image could not be decoded: it is empty.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data))
            fmt = ACCEPTED_FORMATS.get(opened.format or "")
            if fmt is None:
                raise ImageRejected(
                    IMAGE_DECODE_FAILED,
                    f"Unsupported image format {opened.format or 'unknown'}: use PNG, JPG, JPEG or BMP.",
                )
            width, height = opened.size
            _check_resolution(fmt, width, height)
            scale = 1.0
            long_side = max(width, height)
            if long_side > WORKING_LONG_SIDE:
                if fmt == "JPEG":  # let libjpeg decode at 1/2, 1/4 or 1/8 size: much cheaper
                    opened.draft(
                        "RGB", (width * WORKING_LONG_SIDE // long_side, height * WORKING_LONG_SIDE // long_side)
                    )
                img = opened.convert("RGB")
                factor = math.ceil(max(img.size) / WORKING_LONG_SIDE)
                if factor > 1:
                    img = img.reduce(factor)
                scale = img.size[0] / width
            else:
                img = opened.convert("RGB")
            rgb = np.asarray(img, dtype=np.uint8)
    except ImageRejected:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        SyntaxError,
        EOFError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise ImageRejected(IMAGE_DECODE_FAILED, "The image could not be decoded.") from exc
    return DecodedImage(format=fmt, width=width, height=height, rgb=rgb, scale=scale)


def _check_resolution(fmt: str, width: int, height: int) -> None:
    if min(width, height) < MIN_SHORT_SIDE:
        raise ImageRejected(
            IMAGE_RESOLUTION_TOO_SMALL,
            f"The image is {width}x{height}; its short side must be at least {MIN_SHORT_SIDE} pixels.",
        )
    limit = MAX_LONG_SIDE_JPEG if fmt == "JPEG" else MAX_LONG_SIDE_OTHER
    if max(width, height) > limit:
        raise ImageRejected(
            IMAGE_RESOLUTION_EXCEED,
            f"The image is {width}x{height}; the long side of a {fmt} may be at most {limit} pixels.",
        )
