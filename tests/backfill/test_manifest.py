"""Manifest reading and whole-manifest validation (`--dry-run`): every problem with its line and live v1 code."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import yaml

from proxy.backfill.manifest import ManifestError, ManifestRow, RowProblem, read_manifest
from proxy.cli import main
from proxy.emulator.synthetic import gif_photo, subject_photo
from tests.backfill.conftest import APPID, BUCKET, COLUMNS, OTHER_APPID


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    photos = tmp_path / "photos"
    photos.mkdir()
    for photo in range(7):
        (photos / f"p{photo}.jpg").write_bytes(subject_photo(0, photo, size=(96, 128)))
    (photos / "anim.gif").write_bytes(gif_photo())
    (photos / "empty.jpg").write_bytes(b"")
    (tmp_path / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "upstream": {"endpoint": "http://127.0.0.1:9", "secret_id": "AKIDx", "secret_key": "x"},
                "tenants": [
                    {"appid": APPID, "legacy_keys": [{"secret_id": "AKIDa", "secret_key": "a"}]},
                    {"appid": OTHER_APPID, "legacy_keys": [{"secret_id": "AKIDb", "secret_key": "b"}]},
                ],
                "store": {"url": f"sqlite:///{tmp_path / 'never-opened.db'}"},
            }
        )
    )
    return tmp_path


def csv_text(*rows: str) -> str:
    return ",".join(COLUMNS) + "\n" + "".join(r + "\n" for r in rows)


def dry_run(folder: Path, manifest: Path, *extra: str) -> int:
    return main(["backfill", "--config", str(folder / "config.yaml"), "--manifest", str(manifest), "--dry-run", *extra])


def report_problems(path: Path) -> list[tuple[int, int | None]]:
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert all(r["status"] == "invalid" for r in lines)
    return [(r["line"], r["code"]) for r in lines]


def test_every_problem_is_reported_with_its_line_and_the_live_paths_code(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = f"{APPID},{BUCKET}"
    manifest = folder / "archive.csv"
    manifest.write_text(
        csv_text(
            f"{a},p1,g1,Ann,t,photos/p0.jpg,",  # 2 fine
            f"999,{BUCKET},p2,g1,Bob,t,photos/p0.jpg,",  # 3 unknown tenant
            f"{a},p 3,g1,Cy,t,photos/p0.jpg,",  # 4 id with a space: -1313
            f"{a},p4,g1,Di,t,photos/missing.jpg,",  # 5 missing file
            f"{a},p1,g1,Ann,t,photos/p0.jpg,",  # 6 duplicate of line 2
            f"{a},p5,,Ed,t,photos/p0.jpg,",  # 7 no group: -1301
            f"{a},p6,g1,Fi,t,photos/anim.gif,",  # 8 GIF: -1400
            f"{a},{'x' * 200},g1,Gu,t,photos/p0.jpg,",  # 9 too long once encoded: -1304
            *(f"{a},p7,g1,Hal,t,photos/p{i}.jpg," for i in range(6)),  # 10-15: a sixth face: -1309
            f"{a},p1,g1,Ann B,t,photos/p1.jpg,",  # 16 differs from the person's first row
            f"{a},p8,g1,Ida,t,photos/empty.jpg,",  # 17 empty image: -1300
            f"{a},p9,g1,Jo,t",  # 18 too few fields
        )
    )
    assert dry_run(folder, manifest) == 2
    err = capsys.readouterr().err.splitlines()
    shown = [e.removeprefix(f"{manifest}: ") for e in err if e.startswith(str(manifest))]
    assert shown == [
        "line 3: unknown tenant appid '999': not among the config's tenants",
        "line 4: [-1313] invalid parameter: person_id contains ' '",
        "line 5: image 'photos/missing.jpg': no such file",
        "line 7: [-1301] parameter is empty: group_ids",
        "line 8: [-1400] illegal image format: GIF is not supported",
        f"line 9: [-1304] id too long for v3 once encoded: {'x' * 40!r}",
        "line 17: [-1300] image is empty: give url or image",
        "line 18: 6 fields where the header has 8",
        "line 6: duplicate of line 2: same appid, bucket, person_id and image",
        "line 15: [-1309] person 'p7' has 6 faces in the manifest (lines 10, 11, 12, 13, 14, 15); "
        "v3 keeps at most 5 per person",
        "line 16: person_name differs from the person's first row (line 2)",
    ]
    assert sorted(report_problems(folder / "archive.csv.report.jsonl")) == [
        (3, None), (4, -1313), (5, None), (6, None), (7, -1301), (8, -1400), (9, -1304),
        (15, -1309), (16, None), (17, -1300), (18, None),
    ]  # fmt: skip


def test_a_valid_manifest_passes_the_dry_run_and_only_tenant_reads_one_tenant(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = folder / "archive.jsonl"
    lines = [
        {"appid": APPID, "bucket": BUCKET, "person_id": "p1", "group_ids": ["g1", "g2"], "image": "photos/p0.jpg"},
        {"appid": int(APPID), "bucket": BUCKET, "person_id": "p1", "group_ids": "g1;g2", "image": "photos/p1.jpg"},
        {"appid": OTHER_APPID, "person_id": "p9", "group_ids": "g", "image": "photos/missing.jpg"},
        {"appid": APPID, "person_id": "p2", "group_ids": "g1", "image": "https://archive.example/p2.jpg"},
    ]
    manifest.write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n\n")
    assert dry_run(folder, manifest, "--only-tenant", APPID) == 0
    out = capsys.readouterr().out
    assert "manifest " + str(manifest) + ": 3 items, 2 persons valid; 0 problems" in out
    assert "dry run: the manifest is valid; nothing was sent to v3" in out
    assert dry_run(folder, manifest) == 2  # the other tenant's row names a missing photo
    assert "line 3: image 'photos/missing.jpg': no such file" in capsys.readouterr().err


def test_rows_are_read_in_order_with_their_lines(tmp_path: Path) -> None:
    manifest = tmp_path / "m.jsonl"
    manifest.write_bytes(
        b'{"appid": "1", "person_id": "a", "group_ids": ["g"], "image": "x.jpg"}\n\n[1]\n{"tag": true}\n'
    )
    entries = list(read_manifest(manifest))
    assert entries[0] == ManifestRow(
        line=1, appid="1", bucket="", person_id="a", group_ids=("g",), person_name=None, tag=None,
        image="x.jpg", face_tag=None,
    )  # fmt: skip
    assert entries[1:] == [
        RowProblem(3, "not a JSON object: a list"),
        RowProblem(4, "field 'tag' must be a string, got bool"),
    ]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("m.txt", "", "unknown manifest extension '.txt'; use .csv or .jsonl"),
        ("m.csv", "", "the manifest is empty"),
        ("m.csv", "appid,person_id,image\n", "the header lacks column(s) group_ids"),
        ("m.csv", "appid,person_id,group_ids,image,colour\n", "unknown column(s) colour"),
    ],
)
def test_an_unusable_manifest_is_refused_as_a_whole(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ManifestError, match=message.replace("(", r"\(").replace(")", r"\)")):
        list(read_manifest(path))
