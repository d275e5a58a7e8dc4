"""The synthetic photo generator and the `v1proxy faces` command."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from proxy.cli import main
from proxy.emulator import synthetic


def test_photos_are_deterministic_and_distinct() -> None:
    assert synthetic.subject_photo(3, 2) == synthetic.subject_photo(3, 2)
    assert synthetic.subject_photo(3, 2) != synthetic.subject_photo(3, 1)
    assert synthetic.subject_photo(3, 2) != synthetic.subject_photo(4, 2)
    assert synthetic.subject_traits(7) == synthetic.subject_traits(7)
    assert synthetic.subject_traits(7) != synthetic.subject_traits(8)


@pytest.mark.parametrize(("fmt", "pil"), [("jpg", "JPEG"), ("png", "PNG"), ("bmp", "BMP")])
def test_formats_and_size(fmt: str, pil: str) -> None:
    img = Image.open(io.BytesIO(synthetic.subject_photo(0, 1, size=(300, 200), fmt=fmt)))
    assert (img.format, img.size) == (pil, (300, 200))


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported format"):
        synthetic.subject_photo(0, 0, fmt="tiff")


def test_face_stays_inside_the_frame() -> None:
    for subject in range(20):
        for photo in range(5):
            x, y, w, h = synthetic.drawn_face_box(subject, photo)
            assert x >= 0 and y >= 0 and x + w <= 480 and y + h <= 640
            assert w >= 0.2 * 480 and h >= 0.2 * 640  # a reasonably large face


def test_helpers_for_error_cases() -> None:
    assert Image.open(io.BytesIO(synthetic.gif_photo())).format == "GIF"
    assert min(Image.open(io.BytesIO(synthetic.tiny_photo())).size) < 64
    blank = Image.open(io.BytesIO(synthetic.blank_image((100, 80), "png", (1, 2, 3))))
    assert blank.size == (100, 80) and blank.getpixel((5, 5)) == (1, 2, 3)


@pytest.mark.parametrize("target", [100_000, 1_000_000])
def test_photo_of_size_lands_near_target(target: int) -> None:
    data = synthetic.photo_of_size(1, 2, target)
    assert abs(len(data) - target) <= 0.15 * target
    assert Image.open(io.BytesIO(data)).format == "JPEG"


def test_faces_command_writes_photos(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "faces"
    assert (
        main(["faces", "--out", str(out), "--subjects", "2", "--photos", "3", "--format", "png", "--size", "200x260"])
        == 0
    )
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"subject{i}_photo{j}.png" for i in range(2) for j in range(3)]
    assert (out / "subject1_photo2.png").read_bytes() == synthetic.subject_photo(1, 2, size=(200, 260), fmt="png")
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and "6" in printed[0] and str(out) in printed[0]


@pytest.mark.parametrize(
    "argv",
    [
        ["--subjects", "0"],
        ["--photos", "two"],
        ["--format", "gif"],
        ["--size", "480by640"],
        ["--size", "30x640"],
    ],
)
def test_faces_command_bad_arguments_exit_2(
    tmp_path: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["faces", "--out", str(tmp_path), *argv])
    assert exc.value.code == 2
    assert "error" in capsys.readouterr().err


def test_faces_command_checks_v3_limits_and_output_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["faces", "--out", str(tmp_path), "--format", "png", "--size", "2400x2000"]) == 2
    assert "2000" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["faces", "--out", str(blocker / "sub"), "--subjects", "1", "--photos", "1"]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert not list(tmp_path.glob("subject*"))
