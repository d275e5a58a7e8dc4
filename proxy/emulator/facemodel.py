"""A synthetic stand-in for a face model — NOT face recognition — that measures drawn faces.

It finds skin-coloured, face-shaped regions, normalises each crop (position, scale, brightness)
and turns it into a descriptor: a low-resolution luminance pattern plus face shape and skin
chroma. Scores come only from those measurements, never from metadata in the file. It works on
the photos `proxy.emulator.synthetic` draws (and roughly on flat cartoon faces); on real photos
its answers are deterministic but meaningless. Use it to exercise the API, not to judge faces.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from proxy.emulator.images import DecodedImage, ImageRejected, decode_base64_image, open_image

MODEL_NOTICE = (
    "Synthetic stand-in face model: it measures the drawn faces of proxy.emulator.synthetic "
    "(skin region, geometry, tone). It is not face recognition and must not be used on real people."
)

MAX_FACES = 10
_GRID_CELLS = 80  # cells along the long side for the coarse skin search
_DESC_W, _DESC_H = 32, 40  # normalised face crop for the descriptor
_ASPECT_WEIGHT = 5.0
_CHROMA_WEIGHTS = np.array([10.0, 40.0])  # r and g shares of the mean skin colour
# Score curve: embedding distance -> 0..100. Measured on synthetic photos: same subject 0.1-0.5, others 0.6+.
_SCORE_D50 = 0.55
_SCORE_STEEPNESS = 17.0


class NoFaceFound(Exception):
    """The image decodes but holds no face; the service picks the v3 code per action."""


@dataclass(frozen=True)
class FaceBox:
    """A face rectangle in original image pixels."""

    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class HairAttributes:
    """v3 FaceHairAttributesInfo: length 0 bald..4 tied, bang 0 yes/1 no, color 0 black..3 grey."""

    length: int
    bang: int
    color: int


@dataclass(frozen=True)
class FaceAttributes:
    """v3 FaceAttributesInfo (gender 0-49 female, 50-100 male)."""

    gender: int
    age: int
    expression: int
    glass: bool
    beauty: int
    pitch: int
    yaw: int
    roll: int
    hat: bool
    mask: bool
    eye_open: bool
    hair: HairAttributes


@dataclass(frozen=True)
class FaceCompleteness:
    """v3 FaceQualityCompleteness: how unoccluded each part is, 0..100."""

    eyebrow: int
    eye: int
    nose: int
    cheek: int
    mouth: int
    chin: int


@dataclass(frozen=True)
class FaceQuality:
    """v3 FaceQualityInfo."""

    score: int
    sharpness: int
    brightness: int
    completeness: FaceCompleteness


@dataclass(frozen=True)
class Landmarks:
    """Measured key points in original image pixels."""

    left_eye: tuple[int, int]
    right_eye: tuple[int, int]
    nose_tip: tuple[int, int]
    mouth_left: tuple[int, int]
    mouth_right: tuple[int, int]


@dataclass(frozen=True)
class Face:
    """One detected face: where, what it measures like, and what it looks like."""

    box: FaceBox
    embedding: tuple[float, ...]
    attributes: FaceAttributes
    quality: FaceQuality
    landmarks: Landmarks


@dataclass(frozen=True)
class ImageAnalysis:
    """Every face in one image, largest first (at least one)."""

    width: int
    height: int
    format: str
    faces: tuple[Face, ...]


_Outcome = ImageAnalysis | ImageRejected | NoFaceFound


class FaceModel:
    """Analyse images into faces and compare faces; deterministic, with an LRU cache."""

    def __init__(self, cache_size: int = 4096) -> None:
        self._cache_size = cache_size
        self._cache: OrderedDict[bytes, _Outcome] = OrderedDict()
        self._lock = threading.Lock()

    def analyze(self, image: bytes) -> ImageAnalysis:
        """Faces in `image` (raw bytes); raises ImageRejected or NoFaceFound."""
        key = b"raw:" + hashlib.sha256(image).digest()
        outcome = self._cached(key)
        if outcome is None:
            outcome = _outcome(lambda: analyze_image(open_image(image)))
            self._store(key, outcome)
        return _unwrap(outcome)

    def analyze_base64(self, image_b64: str) -> ImageAnalysis:
        """Faces in v3's base64 `Image` parameter; the base64 text's hash is the cache key."""
        key = b"b64:" + hashlib.sha256(image_b64.encode("ascii", "replace")).digest()
        outcome = self._cached(key)
        if outcome is None:
            outcome = _outcome(lambda: self.analyze(decode_base64_image(image_b64)))
            self._store(key, outcome)
        return _unwrap(outcome)

    @staticmethod
    def score(a: Face, b: Face) -> float:
        """Similarity 0..100 (two decimals, like v3's Float Score)."""
        return score_embeddings(np.asarray(a.embedding), np.asarray([b.embedding]))[0]

    def _cached(self, key: bytes) -> _Outcome | None:
        with self._lock:
            outcome = self._cache.get(key)
            if outcome is not None:
                self._cache.move_to_end(key)
            return outcome

    def _store(self, key: bytes, outcome: _Outcome) -> None:
        if self._cache_size <= 0:
            return
        with self._lock:
            self._cache[key] = outcome
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)


def _outcome(compute: Callable[[], ImageAnalysis]) -> _Outcome:
    try:
        return compute()
    except (ImageRejected, NoFaceFound) as exc:
        return exc


def _unwrap(outcome: _Outcome) -> ImageAnalysis:
    if isinstance(outcome, ImageAnalysis):
        return outcome
    raise outcome


def score_embeddings(query: np.ndarray, gallery: np.ndarray) -> list[float]:
    """Scores 0..100 of one embedding against each row of `gallery` (vectorised, for search)."""
    q = np.asarray(query, dtype=np.float64)
    g = np.asarray(gallery, dtype=np.float64).reshape(-1, q.shape[0])
    dist = np.sqrt(((g - q) ** 2).sum(axis=1))
    scores = 100.0 / (1.0 + np.exp(_SCORE_STEEPNESS * (dist - _SCORE_D50)))
    return [round(float(s), 2) for s in scores]


# --- detection -------------------------------------------------------------------------------


def _skin_mask(rgb: np.ndarray) -> np.ndarray:
    """Skin-coloured pixels: red above green above blue, red clearly above blue, not lipstick."""
    r = rgb[..., 0].astype(np.int16)
    g = rgb[..., 1].astype(np.int16)
    b = rgb[..., 2].astype(np.int16)
    return (r - b > 20) & (r >= g - 4) & (g >= b - 8) & (r > 50) & (r - g < 80)


def _components(mask: np.ndarray) -> list[list[tuple[int, int]]]:
    """4-connected components of a small boolean grid."""
    seen = np.zeros_like(mask)
    found: list[list[tuple[int, int]]] = []
    h, w = mask.shape
    for y0, x0 in zip(*np.nonzero(mask), strict=True):
        if seen[y0, x0]:
            continue
        seen[y0, x0] = True
        stack = [(int(y0), int(x0))]
        cells: list[tuple[int, int]] = []
        while stack:
            y, x = stack.pop()
            cells.append((y, x))
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= ny < h and 0 <= nx < w and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    stack.append((ny, nx))
        found.append(cells)
    return found


def _candidate_boxes(rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Face-shaped skin regions as (x0, y0, x1, y1) in working pixels, largest first."""
    h, w = rgb.shape[:2]
    cell = max(2, round(max(h, w) / _GRID_CELLS))
    gh, gw = h // cell, w // cell
    if gh < 4 or gw < 4:
        return []
    blocks = np.asarray(Image.fromarray(rgb[: gh * cell, : gw * cell], "RGB").resize((gw, gh), Image.Resampling.BOX))
    grid = _skin_mask(blocks)
    boxes: list[tuple[int, int, int, int]] = []
    for cells in _components(grid):
        if len(cells) < 12:
            continue
        ys = [c[0] for c in cells]
        xs = [c[1] for c in cells]
        by0, by1, bx0, bx1 = min(ys), max(ys) + 1, min(xs), max(xs) + 1
        bw, bh = bx1 - bx0, by1 - by0
        fill = len(cells) / (bw * bh)
        if bw < 3 or not 0.45 <= fill <= 0.93 or not 0.8 <= bh / bw <= 2.3:
            continue
        if bw >= gw * 0.95 and bh >= gh * 0.95:
            continue
        box = _refine(rgb, (bx0 - 1) * cell, (by0 - 1) * cell, (bx1 + 1) * cell, (by1 + 1) * cell)
        if box is not None:
            boxes.append(box)
    boxes.sort(key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True)
    return boxes[:MAX_FACES]


def _refine(rgb: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> tuple[int, int, int, int] | None:
    """Pixel-accurate face box inside a coarse window, from skin row/column profiles."""
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    mask = _skin_mask(rgb[y0:y1, x0:x1])
    cols, rows = mask.sum(axis=0), mask.sum(axis=1)
    if cols.max(initial=0) < 8 or rows.max(initial=0) < 8:
        return None
    xs = np.nonzero(cols >= 0.2 * cols.max())[0]
    ys = np.nonzero(rows >= 0.2 * rows.max())[0]
    box = (x0 + int(xs[0]), y0 + int(ys[0]), x0 + int(xs[-1]) + 1, y0 + int(ys[-1]) + 1)
    if box[2] - box[0] < 12 or box[3] - box[1] < 12:
        return None
    return box


# --- measurement -----------------------------------------------------------------------------

_YY, _XX = np.mgrid[0:_DESC_H, 0:_DESC_W]
_ELLIPSE = (((_XX + 0.5) / _DESC_W - 0.5) ** 2 / 0.44**2 + ((_YY + 0.5) / _DESC_H - 0.5) ** 2 / 0.44**2) <= 1


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def analyze_image(image: DecodedImage) -> ImageAnalysis:
    """Measure every face in a decoded image; raises NoFaceFound."""
    boxes = _candidate_boxes(image.rgb)
    if not boxes:
        raise NoFaceFound("No face was found in the image.")
    faces = tuple(_measure(image, box) for box in boxes)
    return ImageAnalysis(width=image.width, height=image.height, format=image.format, faces=faces)


def _measure(image: DecodedImage, box: tuple[int, int, int, int]) -> Face:
    rgb = image.rgb
    x0, y0, x1, y1 = box
    face_rgb = rgb[y0:y1, x0:x1].astype(np.float32)
    luma = _luma(face_rgb)
    skin = _skin_mask(rgb[y0:y1, x0:x1])
    skin_rgb = face_rgb[skin] if skin.any() else face_rgb.reshape(-1, 3)
    mean_skin = skin_rgb.mean(axis=0)
    skin_luma = max(1.0, float(_luma(mean_skin)))

    crop = (
        Image.fromarray(np.clip(luma, 0, 255).astype(np.uint8), "L")
        .resize((_DESC_W, _DESC_H), Image.Resampling.BOX)
        .filter(ImageFilter.GaussianBlur(1))
    )
    desc = np.asarray(crop, dtype=np.float64)
    inside = desc[_ELLIPSE]
    norm = (desc - inside.mean()) / max(inside.std(), 1e-6)
    norm[~_ELLIPSE] = 0.0
    norm /= max(float(np.linalg.norm(norm)), 1e-9)
    bw, bh = x1 - x0, y1 - y0
    aspect = bh / bw
    chroma = mean_skin / max(float(mean_skin.sum()), 1.0)
    embedding = np.concatenate([norm.ravel(), [aspect * _ASPECT_WEIGHT], chroma[:2] * _CHROMA_WEIGHTS])

    to_orig = 1.0 / image.scale
    face_box = _clip_box(x0 * to_orig, y0 * to_orig, bw * to_orig, bh * to_orig, image.width, image.height)
    marks = _landmarks(luma, skin_luma)
    landmarks = Landmarks(*((round((x0 + fx * bw) * to_orig), round((y0 + fy * bh) * to_orig)) for fx, fy in marks))
    return Face(
        box=face_box,
        embedding=tuple(np.round(embedding, 6).tolist()),
        attributes=_attributes(rgb, box, face_rgb, luma, skin_luma, aspect, chroma, marks),
        quality=_quality(luma, skin, bw),
        landmarks=landmarks,
    )


def _clip_box(x: float, y: float, w: float, h: float, width: int, height: int) -> FaceBox:
    bx, by = max(0, round(x)), max(0, round(y))
    return FaceBox(bx, by, max(1, min(width - bx, round(w))), max(1, min(height - by, round(h))))


def _dark_centroid(
    luma: np.ndarray, fx0: float, fx1: float, fy0: float, fy1: float, threshold: float
) -> tuple[float, float]:
    h, w = luma.shape
    ya, yb, xa, xb = (
        int(fy0 * h),
        max(int(fy0 * h) + 1, int(fy1 * h)),
        int(fx0 * w),
        max(int(fx0 * w) + 1, int(fx1 * w)),
    )
    region = luma[ya:yb, xa:xb]
    ys, xs = np.nonzero(region < threshold)
    if len(xs) == 0:
        return (fx0 + fx1) / 2, (fy0 + fy1) / 2
    return (xa + float(xs.mean()) + 0.5) / w, (ya + float(ys.mean()) + 0.5) / h


def _landmarks(luma: np.ndarray, skin_luma: float) -> list[tuple[float, float]]:
    """Eye, nose and mouth points as fractions of the face box."""
    dark = skin_luma * 0.4
    left = _dark_centroid(luma, 0.08, 0.48, 0.3, 0.55, dark)
    right = _dark_centroid(luma, 0.52, 0.92, 0.3, 0.55, dark)
    nose_x, nose_y = _dark_centroid(luma, 0.35, 0.65, 0.5, 0.7, skin_luma * 0.85)
    mouth_y = _dark_centroid(luma, 0.2, 0.8, 0.66, 0.88, skin_luma * 0.8)[1]
    h, w = luma.shape
    row = luma[min(h - 1, int(mouth_y * h))]
    lips = np.nonzero(row < skin_luma * 0.8)[0]
    lips = lips[(lips > 0.1 * w) & (lips < 0.9 * w)]
    ml, mr = ((lips[0] + 0.5) / w, (lips[-1] + 0.5) / w) if len(lips) else (0.35, 0.65)
    return [left, right, (nose_x, nose_y + 0.06), (float(ml), mouth_y), (float(mr), mouth_y)]


def _clamp(v: float, lo: int, hi: int) -> int:
    return max(lo, min(hi, round(v)))


def _attributes(
    rgb: np.ndarray,
    box: tuple[int, int, int, int],
    face_rgb: np.ndarray,
    luma: np.ndarray,
    skin_luma: float,
    aspect: float,
    chroma: np.ndarray,
    marks: list[tuple[float, float]],
) -> FaceAttributes:
    x0, y0, x1, y1 = box
    h, w = luma.shape
    # Lipstick-red pixels in the lower face -> "female".
    lower = face_rgb[int(0.6 * h) : int(0.92 * h), int(0.15 * w) : int(0.85 * w)]
    red = float(((lower[..., 0] - lower[..., 1]) > 90).mean()) if lower.size else 0.0
    gender = (
        _clamp(12 + 20 * (1 - min(1.0, red * 40)), 0, 100) if red > 0.004 else _clamp(88 - 30 * (aspect - 1.1), 50, 100)
    )
    # A dark bridge between the eyes -> glasses.
    band = luma[int(0.28 * h) : int(0.56 * h), int(0.46 * w) : max(int(0.46 * w) + 1, int(0.54 * w))]
    glass = bool(band.size) and float(band.mean(axis=1).min()) < skin_luma * 0.45
    # Hair just above the face, relative to skin (so lighting cancels): grey hair reads older.
    hy0, hy1 = max(0, y0 - max(2, (y1 - y0) // 12)), max(0, y0 - 1)
    hair_patch = rgb[hy0:hy1, x0 + (x1 - x0) // 3 : x1 - (x1 - x0) // 3].astype(np.float32)
    hair_ratio = float(_luma(hair_patch).mean()) / skin_luma if hair_patch.size else 0.5
    age = _clamp(20 + 50 * min(1.0, hair_ratio / 1.4) + 10 * (aspect - 1.1), 16, 90)
    hair_color = 0 if hair_ratio < 0.35 else 2 if hair_ratio < 0.7 else 3
    (lx, ly), (rx, ry), (nx, _), (ml, _), (mr, _) = marks
    roll = _clamp(math.degrees(math.atan2((ry - ly) * h, max(1e-6, (rx - lx) * w))), -180, 180)
    yaw = _clamp((nx - (lx + rx) / 2) * 90, -30, 30)
    pitch = _clamp(((ly + ry) / 2 - 0.42) * 60, -30, 30)
    expression = _clamp((mr - ml - 0.25) * 220, 0, 100)
    beauty = _clamp(55 + 300 * (float(chroma[0]) - 0.4) - 20 * abs(aspect - 1.3), 0, 100)
    return FaceAttributes(
        gender=gender,
        age=age,
        expression=expression,
        glass=glass,
        beauty=beauty,
        pitch=pitch,
        yaw=yaw,
        roll=roll,
        hat=False,
        mask=False,
        eye_open=True,
        hair=HairAttributes(length=3 if gender < 50 else 1, bang=1, color=hair_color),
    )


def _quality(luma: np.ndarray, skin: np.ndarray, face_width: int) -> FaceQuality:
    inner = luma[1:-1, 1:-1]
    lap = np.abs(4 * inner - luma[:-2, 1:-1] - luma[2:, 1:-1] - luma[1:-1, :-2] - luma[1:-1, 2:])
    edges = float((lap > 40).mean()) if lap.size else 0.0
    sharpness = _clamp(100 * min(1.0, edges / 0.02), 0, 100)  # share of crisp edge pixels
    brightness = _clamp(float(luma[skin].mean() if skin.any() else luma.mean()) / 255 * 100, 0, 100)
    size_score = min(1.0, face_width / 100)
    light_score = 1 - min(1.0, abs(brightness - 55) / 55)
    score = _clamp(100 * (0.45 * sharpness / 100 + 0.3 * light_score + 0.25 * size_score), 0, 100)
    completeness = FaceCompleteness(eyebrow=96, eye=98, nose=99, cheek=97, mouth=98, chin=95)
    return FaceQuality(score=score, sharpness=sharpness, brightness=brightness, completeness=completeness)


def analyze_base64_uncached(image_b64: str) -> ImageAnalysis:
    """One-off analysis without a model instance (tests, tools)."""
    return analyze_image(open_image(decode_base64_image(image_b64)))


def embeddings_matrix(faces: Sequence[Face]) -> np.ndarray:
    """Stack faces' embeddings into a (n, d) array for `score_embeddings`."""
    return np.asarray([f.embedding for f in faces], dtype=np.float64)


__all__ = [
    "MODEL_NOTICE",
    "Face",
    "FaceAttributes",
    "FaceBox",
    "FaceCompleteness",
    "FaceModel",
    "FaceQuality",
    "HairAttributes",
    "ImageAnalysis",
    "Landmarks",
    "NoFaceFound",
    "embeddings_matrix",
    "score_embeddings",
]
