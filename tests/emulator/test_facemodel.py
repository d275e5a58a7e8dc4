"""The synthetic face model: finds drawn faces, scores same subject high and others low, caches."""

from __future__ import annotations

import base64
import io
import itertools

import numpy as np
import pytest
from PIL import Image, ImageDraw

from proxy.emulator import facemodel, synthetic
from proxy.emulator.facemodel import MODEL_NOTICE, Face, FaceModel, NoFaceFound, score_embeddings
from proxy.emulator.images import ImageRejected

SUBJECTS, PHOTOS = 12, 4
FORMATS = ("jpg", "png", "bmp", "jpg")


@pytest.fixture(scope="module")
def model() -> FaceModel:
    return FaceModel()


@pytest.fixture(scope="module")
def gallery(model: FaceModel) -> dict[tuple[int, int], Face]:
    """12 subjects x 4 photos: shifted, rescaled, relit, noisy, re-encoded as jpg/png/bmp."""
    return {
        (i, j): model.analyze(synthetic.subject_photo(i, j, fmt=FORMATS[j])).faces[0]
        for i in range(SUBJECTS)
        for j in range(PHOTOS)
    }


def test_says_it_is_not_face_recognition() -> None:
    assert "not face recognition" in MODEL_NOTICE
    assert facemodel.__doc__ is not None and "NOT face recognition" in facemodel.__doc__


def test_same_subject_scores_at_least_80(gallery: dict[tuple[int, int], Face]) -> None:
    scores = [
        FaceModel.score(gallery[i, a], gallery[i, b])
        for i in range(SUBJECTS)
        for a, b in itertools.combinations(range(PHOTOS), 2)
    ]
    assert min(scores) >= 80


def test_different_subjects_score_at_most_30(gallery: dict[tuple[int, int], Face]) -> None:
    scores = [
        FaceModel.score(gallery[key_a], gallery[key_b])
        for key_a, key_b in itertools.combinations(gallery, 2)
        if key_a[0] != key_b[0]
    ]
    assert max(scores) <= 30


def test_score_is_symmetric_bounded_and_rounded(gallery: dict[tuple[int, int], Face]) -> None:
    a, b = gallery[0, 0], gallery[0, 1]
    assert FaceModel.score(a, b) == FaceModel.score(b, a)
    assert FaceModel.score(a, a) == pytest.approx(100, abs=0.5)
    for score in (FaceModel.score(a, b), FaceModel.score(a, gallery[5, 2])):
        assert 0 <= score <= 100 and round(score, 2) == score


def test_vectorised_scores_match(gallery: dict[tuple[int, int], Face]) -> None:
    faces = list(gallery.values())[:10]
    batch = score_embeddings(np.asarray(faces[0].embedding), facemodel.embeddings_matrix(faces))
    assert batch == [FaceModel.score(faces[0], f) for f in faces]


def test_score_comes_from_pixels_not_the_file(model: FaceModel) -> None:
    """Re-encoding the pixels keeps the score; painting over the face removes it."""
    original = synthetic.subject_photo(6, 1)
    img = Image.open(io.BytesIO(original)).convert("RGB")
    reencoded = io.BytesIO()
    img.save(reencoded, "PNG")
    enrolled = model.analyze(synthetic.subject_photo(6, 0)).faces[0]
    assert FaceModel.score(enrolled, model.analyze(reencoded.getvalue()).faces[0]) >= 80

    x, y, w, h = synthetic.drawn_face_box(6, 1)
    ImageDraw.Draw(img).rectangle((x - 5, y - 5, x + w + 5, y + h + 5), fill=(60, 90, 150))
    painted = io.BytesIO()
    img.save(painted, "PNG")
    with pytest.raises(NoFaceFound):
        model.analyze(painted.getvalue())


@pytest.mark.parametrize(
    "data",
    [
        synthetic.blank_image(),
        synthetic.blank_image(color=(200, 150, 120)),  # skin-coloured but no face shape
        synthetic.noise_image(),
        synthetic.noise_image(fmt="jpg", seed=7),
    ],
    ids=["blank", "blank-skin", "noise-png", "noise-jpg"],
)
def test_no_face(model: FaceModel, data: bytes) -> None:
    with pytest.raises(NoFaceFound):
        model.analyze(data)


def test_box_is_inside_and_overlaps_the_drawn_face(gallery: dict[tuple[int, int], Face]) -> None:
    for (i, j), face in gallery.items():
        box = face.box
        assert box.x >= 0 and box.y >= 0 and box.x + box.width <= 480 and box.y + box.height <= 640
        x, y, w, h = synthetic.drawn_face_box(i, j)
        ix = max(0, min(x + w, box.x + box.width) - max(x, box.x))
        iy = max(0, min(y + h, box.y + box.height) - max(y, box.y))
        union = w * h + box.width * box.height - ix * iy
        assert ix * iy / union > 0.85, (i, j)


def test_landmarks_fall_inside_the_box(gallery: dict[tuple[int, int], Face]) -> None:
    for face in gallery.values():
        box, marks = face.box, face.landmarks
        for px, py in (marks.left_eye, marks.right_eye, marks.nose_tip, marks.mouth_left, marks.mouth_right):
            assert box.x <= px <= box.x + box.width and box.y <= py <= box.y + box.height
        assert marks.left_eye[0] < marks.right_eye[0]
        assert marks.left_eye[1] < marks.nose_tip[1] < marks.mouth_left[1] + box.height * 0.1


def test_attributes_are_stable_per_subject_and_follow_the_drawing(
    gallery: dict[tuple[int, int], Face],
) -> None:
    for i in range(SUBJECTS):
        traits = synthetic.subject_traits(i)
        attrs = [gallery[i, j].attributes for j in range(PHOTOS)]
        assert {a.gender < 50 for a in attrs} == {traits.female}
        assert {a.glass for a in attrs} == {traits.glasses}
        ages = [a.age for a in attrs]
        assert max(ages) - min(ages) <= 4 and all(0 <= a <= 100 for a in ages)
        for a in attrs:
            assert -30 <= a.pitch <= 30 and -30 <= a.yaw <= 30 and -180 <= a.roll <= 180
            assert 0 <= a.expression <= 100 and 0 <= a.beauty <= 100


def test_quality_is_in_range(gallery: dict[tuple[int, int], Face]) -> None:
    for face in gallery.values():
        q = face.quality
        assert 0 <= q.score <= 100 and 0 <= q.sharpness <= 100 and 0 <= q.brightness <= 100
        assert 30 <= q.brightness <= 90 and q.score >= 70
        assert all(0 <= v <= 100 for v in vars(q.completeness).values())


def test_two_subjects_side_by_side_give_two_faces_largest_first(model: FaceModel) -> None:
    analysis = model.analyze(synthetic.group_photo((3, 4)))
    assert len(analysis.faces) == 2
    first, second = analysis.faces
    assert first.box.width * first.box.height > second.box.width * second.box.height
    assert first.box.x < second.box.x
    solo3 = model.analyze(synthetic.subject_photo(3, 0)).faces[0]
    solo4 = model.analyze(synthetic.subject_photo(4, 0)).faces[0]
    assert FaceModel.score(first, solo3) >= 80 and FaceModel.score(second, solo4) >= 80
    assert FaceModel.score(first, solo4) <= 30


def test_large_jpeg_box_is_in_original_pixels(model: FaceModel) -> None:
    analysis = model.analyze(synthetic.photo_of_size(2, 0, 1_000_000))
    box = analysis.faces[0].box
    assert analysis.width > 1000 and box.x + box.width <= analysis.width
    assert box.width > analysis.width * 0.3
    enrolled = model.analyze(synthetic.subject_photo(2, 1)).faces[0]
    assert FaceModel.score(enrolled, analysis.faces[0]) >= 80


def test_cache_returns_the_same_object() -> None:
    model = FaceModel()
    data = synthetic.subject_photo(1, 0)
    first = model.analyze(data)
    assert model.analyze(bytes(data)) is first
    b64 = base64.b64encode(data).decode()
    assert model.analyze_base64(b64) is first  # decoded bytes hit the byte cache
    assert model.analyze_base64(b64) is first


def test_cache_remembers_rejections() -> None:
    model = FaceModel()
    with pytest.raises(NoFaceFound) as first:
        model.analyze(synthetic.blank_image())
    with pytest.raises(NoFaceFound) as second:
        model.analyze(synthetic.blank_image())
    assert first.value is second.value
    with pytest.raises(ImageRejected) as gif:
        model.analyze_base64(base64.b64encode(synthetic.gif_photo()).decode())
    assert gif.value.code == "FailedOperation.ImageDecodeFailed"
    with pytest.raises(ImageRejected) as empty:
        model.analyze_base64("")
    assert empty.value.code == "InvalidParameterValue.ImageEmpty"


def test_cache_is_bounded_lru() -> None:
    model = FaceModel(cache_size=2)
    photos = [synthetic.subject_photo(i, 0, size=(120, 160)) for i in range(3)]
    first = model.analyze(photos[0])
    second = model.analyze(photos[1])
    assert model.analyze(photos[0]) is first  # refresh 0, so 1 is the oldest
    model.analyze(photos[2])  # evicts 1
    assert model.analyze(photos[0]) is first
    again = model.analyze(photos[1])
    assert again is not second and again == second
    uncached = FaceModel(cache_size=0)
    assert uncached.analyze(photos[0]) is not uncached.analyze(photos[0])
    assert uncached.analyze(photos[0]) == first


def test_blurred_dark_photo_is_found_but_scores_low_quality(
    model: FaceModel, gallery: dict[tuple[int, int], Face]
) -> None:
    for i in range(4):
        face = model.analyze(synthetic.degraded_photo(i)).faces[0]
        assert face.quality.score < 50 and face.quality.sharpness < 40 and face.quality.brightness < 35
        assert gallery[i, 0].quality.score >= 70 and gallery[i, 0].quality.sharpness >= 80
