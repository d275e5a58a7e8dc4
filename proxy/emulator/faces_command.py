"""`v1proxy faces`: write synthetic face photos (subject<i>_photo<j>.<ext>) to a directory."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from proxy.emulator.synthetic import subject_photo

HELP = "Write deterministic synthetic face photos (for the emulator, tests, demos and benchmarks)."

_EXTENSIONS = ("jpg", "png", "bmp")
_MAX_SIDE = {"jpg": 4000, "png": 2000, "bmp": 2000}


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 480x640, got {text!r}")
    width, height = int(match.group(1)), int(match.group(2))
    if min(width, height) < 64:
        raise argparse.ArgumentTypeError(f"{width}x{height}: both sides must be at least 64 pixels")
    return width, height


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, help="directory to write into (created)")
    parser.add_argument("--subjects", type=_positive, default=4, help="number of people (default 4)")
    parser.add_argument("--photos", type=_positive, default=3, help="photos per person (default 3)")
    parser.add_argument("--format", choices=_EXTENSIONS, default="jpg", help="image format (default jpg)")
    parser.add_argument(
        "--size", type=_size, default=(480, 640), metavar="WxH", help="image size in pixels (default 480x640)"
    )


def run(args: argparse.Namespace) -> int:
    out: Path = args.out
    fmt: str = args.format
    width, height = args.size
    if max(width, height) > _MAX_SIDE[fmt]:
        return _usage_error(
            f"--size {width}x{height}: v3 accepts {fmt} images up to {_MAX_SIDE[fmt]} pixels on the long side"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        for subject in range(args.subjects):
            for photo in range(args.photos):
                data = subject_photo(subject, photo, size=(width, height), fmt=fmt)
                (out / f"subject{subject}_photo{photo}.{fmt}").write_bytes(data)
    except OSError as exc:
        return _usage_error(f"--out {out}: cannot write there: {exc.strerror or exc}")
    total = args.subjects * args.photos
    print(f"wrote {total} {fmt} photos ({args.subjects} subjects x {args.photos} photos, {width}x{height}) to {out}")
    return 0


def _usage_error(message: str) -> int:
    """Report a bad argument the way argparse does (exit status 2)."""
    print(f"v1proxy faces: error: {message}", file=sys.stderr)
    return 2
