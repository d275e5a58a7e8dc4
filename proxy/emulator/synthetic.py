"""Deterministic synthetic face photos: subject i is a drawn face, photo j a different shot of it."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

Size = tuple[int, int]
RGB = tuple[int, int, int]

FORMATS: dict[str, str] = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "bmp": "BMP", "gif": "GIF"}

_LIGHT_SKIN = (232, 192, 160)
_DARK_SKIN = (112, 74, 52)
# Hair, brows and glasses are never skin-coloured (red barely above blue), so they do not merge with the face.
_HAIR = ((28, 24, 22), (48, 44, 42), (90, 88, 88), (150, 150, 152), (205, 205, 208))
_LIPS_FEMALE = (196, 44, 64)
_LIPS_MALE = (150, 92, 84)
# Backgrounds and clothes: greys, blues, greens — colours the skin test rejects.
_BACKGROUNDS = (
    (70, 70, 74),
    (128, 128, 132),
    (190, 190, 194),
    (222, 224, 228),
    (60, 90, 150),
    (120, 150, 200),
    (170, 195, 230),
    (60, 120, 80),
    (130, 180, 140),
    (40, 44, 60),
    (100, 130, 130),
    (200, 215, 215),
)
_CLOTHES = ((30, 40, 80), (50, 50, 55), (40, 90, 60), (150, 150, 160), (20, 20, 24), (70, 110, 170))


@dataclass(frozen=True)
class SubjectTraits:
    """What makes subject i look like subject i (all fractions of the face box)."""

    skin: RGB
    aspect: float  # face height / width
    eye_y: float
    eye_spacing: float
    eye_size: float
    brow_gap: float
    brow_tilt: float
    nose_length: float
    nose_width: float
    mouth_y: float
    mouth_width: float
    mouth_height: float
    female: bool
    glasses: bool
    hair: RGB
    marks: tuple[tuple[float, float, float], ...]  # (x, y, radius) of moles


@dataclass(frozen=True)
class ShotParams:
    """How photo j of a subject was taken."""

    face_width: float  # fraction of image width
    center_x: float  # fraction of image width
    center_y: float  # fraction of image height
    brightness: float
    noise: float
    quality: int
    background: RGB
    background_bottom: RGB
    clothes: RGB


def _halton(index: int, base: int) -> float:
    """The index-th element of the van der Corput sequence in `base` (well spread for any prefix)."""
    result, f = 0.0, 1.0
    while index > 0:
        f /= base
        result += f * (index % base)
        index //= base
    return result


_HALTON_BASES = (2, 3, 5, 7, 11, 13, 17, 19)


def subject_traits(subject: int) -> SubjectTraits:
    """The identity of subject `subject`: main proportions from a Halton sequence over the index
    (so any first N subjects are spread apart), the rest from an RNG seeded by the index alone."""
    rng = random.Random(f"subject:{subject}")
    # Quasi-random coordinates in [0, 1), lightly jittered so nearby indices do not look related.
    q = [(_halton(subject + 1, base) + rng.uniform(-0.02, 0.02)) % 1.0 for base in _HALTON_BASES]

    def span(k: int, lo: float, hi: float) -> float:
        return lo + (hi - lo) * q[k]

    t = q[0]
    skin = tuple(round(a + (b - a) * t + rng.uniform(-4, 4)) for a, b in zip(_LIGHT_SKIN, _DARK_SKIN, strict=True))
    marks = tuple(
        (rng.uniform(0.25, 0.75), rng.uniform(0.3, 0.85), rng.uniform(0.025, 0.045)) for _ in range(rng.randint(0, 3))
    )
    return SubjectTraits(
        skin=(skin[0], skin[1], skin[2]),
        aspect=span(1, 1.12, 1.48),
        eye_y=span(2, 0.36, 0.48),
        eye_spacing=span(3, 0.30, 0.50),
        eye_size=span(7, 0.12, 0.20),
        brow_gap=rng.uniform(0.05, 0.10),
        brow_tilt=rng.uniform(-0.04, 0.04),
        nose_length=span(6, 0.12, 0.24),
        nose_width=rng.uniform(0.06, 0.12),
        mouth_y=span(4, 0.70, 0.82),
        mouth_width=span(5, 0.25, 0.55),
        mouth_height=rng.uniform(0.04, 0.09),
        female=rng.random() < 0.5,
        glasses=rng.random() < 0.3,
        hair=rng.choice(_HAIR),
        marks=marks,
    )


def shot_params(subject: int, photo: int) -> ShotParams:
    """How photo `photo` of `subject` is framed and exposed, from an RNG keyed by both."""
    rng = random.Random(f"photo:{subject}:{photo}")
    if photo == 0:  # the "enrolment" shot: centred, neutral light
        return ShotParams(
            0.42,
            0.5,
            0.46,
            1.0,
            2.0,
            92,
            _BACKGROUNDS[subject % 4 + 1],
            _BACKGROUNDS[subject % 4 + 1],
            _CLOTHES[subject % len(_CLOTHES)],
        )
    top = rng.choice(_BACKGROUNDS)
    return ShotParams(
        face_width=rng.uniform(0.36, 0.50),
        center_x=rng.uniform(0.38, 0.62),
        center_y=rng.uniform(0.40, 0.52),
        brightness=rng.uniform(0.8, 1.18),
        noise=rng.uniform(0.0, 7.0),
        quality=rng.randint(70, 95),
        background=top,
        background_bottom=rng.choice(_BACKGROUNDS) if rng.random() < 0.5 else top,
        clothes=rng.choice(_CLOTHES),
    )


def _scale(color: RGB, k: float) -> RGB:
    return (min(255, round(color[0] * k)), min(255, round(color[1] * k)), min(255, round(color[2] * k)))


def draw_face(draw: ImageDraw.ImageDraw, traits: SubjectTraits, cx: float, cy: float, fw: float, clothes: RGB) -> None:
    """Draw one head and shoulders, face box `fw` wide centred at (cx, cy)."""
    fh = fw * traits.aspect
    left, top = cx - fw / 2, cy - fh / 2

    def px(fx: float, fy: float) -> tuple[float, float]:
        return left + fx * fw, top + fy * fh

    line = max(1, round(fw * 0.025))
    # Shoulders, then hair behind the head.
    draw.ellipse((cx - 0.95 * fw, cy + 0.48 * fh, cx + 0.95 * fw, cy + 1.9 * fh), fill=clothes)
    hair_bottom = cy + (0.45 * fh if traits.female else -0.05 * fh)
    draw.ellipse((cx - 0.58 * fw, cy - 0.62 * fh, cx + 0.58 * fw, hair_bottom), fill=traits.hair)
    if traits.female:
        draw.rectangle((cx - 0.58 * fw, cy - 0.1 * fh, cx + 0.58 * fw, cy + 0.45 * fh), fill=traits.hair)
    draw.ellipse((left, top, left + fw, top + fh), fill=traits.skin)
    # Eyes with pupils, brows above.
    ew, eh = traits.eye_size * fw, traits.eye_size * fw * 0.55
    for side in (-1, 1):
        ex, ey = px(0.5 + side * traits.eye_spacing / 2, traits.eye_y)
        draw.ellipse((ex - ew / 2, ey - eh / 2, ex + ew / 2, ey + eh / 2), fill=(245, 245, 245))
        pr = eh * 0.42
        draw.ellipse((ex - pr, ey - pr, ex + pr, ey + pr), fill=(35, 25, 20))
        by = ey - traits.brow_gap * fh
        tilt = traits.brow_tilt * fh * side
        draw.line((ex - ew * 0.6, by + tilt, ex + ew * 0.6, by - tilt), fill=traits.hair, width=line * 2)
        if traits.glasses:
            gr = ew * 0.75
            draw.ellipse((ex - gr, ey - gr * 0.8, ex + gr, ey + gr * 0.8), outline=(20, 20, 22), width=line)
    if traits.glasses:
        gr = traits.eye_size * fw * 0.75
        inner = traits.eye_spacing / 2 * fw - gr
        ey = top + traits.eye_y * fh
        draw.line((cx - inner, ey, cx + inner, ey), fill=(20, 20, 22), width=line)
    # Nose: a darker-skin wedge.
    nose_top = px(0.5, traits.eye_y + 0.04)
    nose_end = traits.eye_y + 0.04 + traits.nose_length
    draw.polygon(
        (nose_top, px(0.5 - traits.nose_width, nose_end), px(0.5 + traits.nose_width, nose_end)),
        fill=_scale(traits.skin, 0.72),
    )
    # Mouth.
    mx, my = px(0.5, traits.mouth_y)
    mw, mh = traits.mouth_width * fw, traits.mouth_height * fh
    draw.ellipse(
        (mx - mw / 2, my - mh / 2, mx + mw / 2, my + mh / 2), fill=_LIPS_FEMALE if traits.female else _LIPS_MALE
    )
    for fx, fy, r in traits.marks:
        mx, my = px(fx, fy)
        draw.ellipse((mx - r * fw / 2, my - r * fw / 2, mx + r * fw / 2, my + r * fw / 2), fill=(70, 45, 35))


def _background(size: Size, top: RGB, bottom: RGB) -> Image.Image:
    w, h = size
    ramp = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    rows = np.array(top, np.float32) * (1 - ramp) + np.array(bottom, np.float32) * ramp
    return Image.fromarray(np.broadcast_to(rows, (h, w, 3)).astype(np.uint8), "RGB")


def _finish(img: Image.Image, shot: ShotParams, seed: str) -> Image.Image:
    if shot.brightness == 1.0 and shot.noise == 0:
        return img
    arr = np.asarray(img, dtype=np.float32) * shot.brightness
    if shot.noise > 0:
        arr += np.random.default_rng(abs(hash_seed(seed))).normal(0, shot.noise, arr.shape).astype(np.float32)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def hash_seed(text: str) -> int:
    """A stable integer seed from text (Python's hash() is salted per process)."""
    return random.Random(text).getrandbits(63)


def encode(img: Image.Image, fmt: str, quality: int = 90) -> bytes:
    """Encode `img` as jpg/png/bmp/gif bytes."""
    pil_format = FORMATS.get(fmt.lower())
    if pil_format is None:
        raise ValueError(f"unsupported format {fmt!r}; use one of {', '.join(sorted(FORMATS))}")
    out = io.BytesIO()
    if pil_format == "JPEG":
        img.convert("RGB").save(out, "JPEG", quality=quality)
    else:
        img.save(out, pil_format)
    return out.getvalue()


def _layout(subject: int, photo: int, size: Size) -> tuple[float, float, float, float]:
    """Centre x, centre y, width and height of the drawn face in photo `photo` of `subject`."""
    traits, shot = subject_traits(subject), shot_params(subject, photo)
    w, h = size
    fw = shot.face_width * min(w, h / traits.aspect * 0.75)
    fh = fw * traits.aspect
    cx = min(max(shot.center_x * w, fw * 0.65), w - fw * 0.65)
    cy = min(max(shot.center_y * h, fh * 0.68), h - fh * 0.55)
    return cx, cy, fw, fh


def drawn_face_box(subject: int, photo: int, size: Size = (480, 640)) -> tuple[int, int, int, int]:
    """Ground truth for tests: (x, y, width, height) of the face ellipse as drawn."""
    cx, cy, fw, fh = _layout(subject, photo, size)
    return round(cx - fw / 2), round(cy - fh / 2), round(fw), round(fh)


def subject_image(subject: int, photo: int, size: Size = (480, 640)) -> Image.Image:
    """Photo `photo` of `subject` as a Pillow image (before encoding)."""
    traits, shot = subject_traits(subject), shot_params(subject, photo)
    img = _background(size, shot.background, shot.background_bottom)
    cx, cy, fw, _ = _layout(subject, photo, size)
    draw_face(ImageDraw.Draw(img), traits, cx, cy, fw, shot.clothes)
    return _finish(img, shot, f"noise:{subject}:{photo}")


def subject_photo(subject: int, photo: int, *, size: Size = (480, 640), fmt: str = "jpg") -> bytes:
    """Photo `photo` of `subject`, encoded (`fmt` is jpg, png or bmp; size is (width, height))."""
    return encode(subject_image(subject, photo, size), fmt, shot_params(subject, photo).quality)


def group_photo(subjects: tuple[int, ...], photo: int = 0, *, size: Size = (960, 640), fmt: str = "jpg") -> bytes:
    """Several subjects side by side, the first drawn largest."""
    w, h = size
    shot = shot_params(subjects[0], photo)
    img = _background(size, shot.background, shot.background_bottom)
    draw = ImageDraw.Draw(img)
    slot = w / len(subjects)
    for k, subject in enumerate(subjects):
        traits = subject_traits(subject)
        fw = min(slot * 0.5, h / traits.aspect * 0.45) * (1.0 if k == 0 else 0.8)
        draw_face(draw, traits, slot * (k + 0.5), h * 0.45, fw, _CLOTHES[(subject + k) % len(_CLOTHES)])
    return encode(_finish(img, shot, f"group:{subjects}:{photo}"), fmt, shot.quality)


def blank_image(size: Size = (480, 640), fmt: str = "jpg", color: RGB = (200, 200, 200)) -> bytes:
    """A uniform image with no face."""
    return encode(Image.new("RGB", size, color), fmt)


def noise_image(size: Size = (480, 640), fmt: str = "png", seed: int = 0) -> bytes:
    """Uniform random noise: no face in it."""
    arr = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return encode(Image.fromarray(arr, "RGB"), fmt)


def gif_photo(subject: int = 0, photo: int = 0, size: Size = (240, 320)) -> bytes:
    """A GIF of a face (v3 rejects GIF)."""
    return encode(subject_image(subject, photo, size).convert("P"), "gif")


def tiny_photo(subject: int = 0, size: Size = (48, 60), fmt: str = "jpg") -> bytes:
    """A face photo whose short side is under 64 pixels."""
    return encode(subject_image(subject, 0, size), fmt)


def photo_of_size(subject: int, photo: int, target_bytes: int, *, tolerance: float = 0.15) -> bytes:
    """A JPEG photo of `subject` close to `target_bytes` (within `tolerance`), for benchmarks.

    Picks the pixel size from the target, then adds grain and searches JPEG quality.
    """
    # Rough: a noisy q≈85 JPEG costs about 0.45 bytes per pixel.
    pixels = max(64 * 64, target_bytes / 0.45)
    h = int(min(3900, max(96, (pixels * 4 / 3) ** 0.5)))
    w = int(min(3000, max(72, h * 3 / 4)))
    base = subject_image(subject, photo, (w, h))
    grainy = np.asarray(base, dtype=np.float32)
    grainy += np.random.default_rng(hash_seed(f"grain:{subject}:{photo}")).normal(0, 6, grainy.shape)
    img = Image.fromarray(np.clip(grainy, 0, 255).astype(np.uint8), "RGB")
    lo, hi = 20, 98
    best = encode(img, "jpg", 85)
    while lo <= hi:
        q = (lo + hi) // 2
        data = encode(img, "jpg", q)
        if abs(len(data) - target_bytes) < abs(len(best) - target_bytes):
            best = data
        if abs(len(data) - target_bytes) <= tolerance * target_bytes:
            return data
        if len(data) > target_bytes:
            hi = q - 1
        else:
            lo = q + 1
    return best


def degraded_photo(
    subject: int,
    photo: int = 0,
    *,
    size: Size = (480, 640),
    blur: float = 6.0,
    brightness: float = 0.45,
    fmt: str = "jpg",
) -> bytes:
    """A blurred, dark shot of `subject`: the face is still found, its quality score is low."""
    img = subject_image(subject, photo, size).filter(ImageFilter.GaussianBlur(blur))
    arr = np.asarray(img, dtype=np.float32) * brightness
    return encode(Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB"), fmt, 80)
