"""v3's image rules: each broken rule gives v3's own error code."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from proxy.emulator import synthetic
from proxy.emulator.images import (
    MAX_BASE64_CHARS,
    WORKING_LONG_SIDE,
    ImageRejected,
    decode_base64_image,
    open_image,
)


def _encode(size: tuple[int, int], fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (90, 120, 160)).save(out, fmt)
    return out.getvalue()


def _code(exc: pytest.ExceptionInfo[ImageRejected]) -> str:
    return exc.value.code


def test_base64_round_trip() -> None:
    data = synthetic.subject_photo(0, 0)
    assert decode_base64_image(base64.b64encode(data).decode()) == data


def test_base64_over_5mb_is_size_exceed() -> None:
    with pytest.raises(ImageRejected) as exc:
        decode_base64_image("A" * (MAX_BASE64_CHARS + 4))
    assert _code(exc) == "FailedOperation.ImageSizeExceed"


def test_base64_at_5mb_is_not_size_exceed() -> None:
    with pytest.raises(ImageRejected) as exc:  # valid base64 of zeros: passes size, fails decoding
        open_image(decode_base64_image("A" * MAX_BASE64_CHARS))
    assert _code(exc) == "FailedOperation.ImageDecodeFailed"


def test_empty_base64_is_image_empty() -> None:
    with pytest.raises(ImageRejected) as exc:
        decode_base64_image("")
    assert _code(exc) == "InvalidParameterValue.ImageEmpty"


def test_invalid_base64_is_decode_failed() -> None:
    with pytest.raises(ImageRejected) as exc:
        decode_base64_image("not base64 at all!")
    assert _code(exc) == "FailedOperation.ImageDecodeFailed"


@pytest.mark.parametrize("fmt", ["jpg", "png", "bmp"])
def test_accepted_formats(fmt: str) -> None:
    image = open_image(synthetic.subject_photo(1, 1, fmt=fmt))
    assert (image.format, image.width, image.height) == ({"jpg": "JPEG", "png": "PNG", "bmp": "BMP"}[fmt], 480, 640)
    assert image.rgb.shape == (640, 480, 3)


def test_gif_is_decode_failed() -> None:
    with pytest.raises(ImageRejected) as exc:
        open_image(synthetic.gif_photo())
    assert _code(exc) == "FailedOperation.ImageDecodeFailed"
    assert "GIF" in exc.value.message


@pytest.mark.parametrize("data", [b"", b"\x00" * 100, b"definitely not an image" * 10])
def test_undecodable_is_decode_failed(data: bytes) -> None:
    with pytest.raises(ImageRejected) as exc:
        open_image(data)
    assert _code(exc) == "FailedOperation.ImageDecodeFailed"


@pytest.mark.parametrize("fmt", ["jpg", "png"])
def test_truncated_is_decode_failed(fmt: str) -> None:
    data = synthetic.subject_photo(2, 0, fmt=fmt)
    with pytest.raises(ImageRejected) as exc:
        open_image(data[: len(data) // 2])
    assert _code(exc) == "FailedOperation.ImageDecodeFailed"


def test_short_side_under_64_is_too_small() -> None:
    with pytest.raises(ImageRejected) as exc:
        open_image(synthetic.tiny_photo())
    assert _code(exc) == "FailedOperation.ImageResolutionTooSmall"
    assert open_image(_encode((64, 64), "PNG")).width == 64


@pytest.mark.parametrize(
    ("size", "fmt", "ok"),
    [
        ((4000, 100), "JPEG", True),
        ((4001, 100), "JPEG", False),
        ((100, 4001), "JPEG", False),
        ((2000, 100), "PNG", True),
        ((2001, 100), "PNG", False),
        ((2001, 100), "BMP", False),
        ((2001, 100), "JPEG", True),
    ],
)
def test_long_side_limits_depend_on_format(size: tuple[int, int], fmt: str, ok: bool) -> None:
    data = _encode(size, fmt)
    if ok:
        assert open_image(data).width == size[0]
        return
    with pytest.raises(ImageRejected) as exc:
        open_image(data)
    assert _code(exc) == "FailedOperation.ImageResolutionExceed"


def test_large_images_get_a_small_working_copy() -> None:
    image = open_image(synthetic.photo_of_size(0, 0, 1_000_000))
    assert max(image.rgb.shape[:2]) <= WORKING_LONG_SIDE
    assert image.scale == pytest.approx(image.rgb.shape[1] / image.width)
    assert image.width > 1000
