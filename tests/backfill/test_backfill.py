"""`v1proxy backfill` as a real process against the emulator; the result checked through the legacy SDK."""

from __future__ import annotations

import re
import time
from pathlib import Path

import orjson
from qcloud_image import CIFile, Client
from qcloud_image.conf import Conf

from tests.backfill.conftest import APPID, BUCKET, LEGACY_ID, LEGACY_KEY, PHOTOS, Bench, row
from tests.fixtures_redis import RedisTarget

HELD_OUT = PHOTOS - 1  # never in a manifest: the photo each person is verified with


def report(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def statuses(path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in report(path):
        counts[str(line["status"])] = counts.get(str(line["status"]), 0) + 1
    return counts


def summary_count(out: str, name: str) -> int:
    match = re.search(rf"{re.escape(name)}\s*[│|]\s*(\d+)", out)
    assert match, out
    return int(match.group(1))


def test_backfilled_persons_verify_through_the_legacy_sdk_with_a_held_out_photo(bench: Bench) -> None:
    rows = [row(f"emp-{s}", s, p, groups="staff;site-a" if s % 2 else "staff") for s in range(6) for p in range(3)]
    rows[4]["face_tag"] = "badge photo"
    manifest = bench.manifest(rows)
    done = bench.run(manifest, "--qps", "200", "--concurrency", "4", "--verify-sample", "4", "--progress-every", "0.2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "manifest " in done.stdout and "18 items, 6 persons valid; 0 problems" in done.stdout
    assert "verify sample: 4/4 persons verified with an archive photo (100.0%)" in done.stdout
    assert re.search(r"backfill \d:\d\d:\d\d  items 18/18 \(100\.0%\)  persons 6/6  faces 18 ", done.stdout)
    assert summary_count(done.stdout, "persons created (newperson)") == 6
    assert summary_count(done.stdout, "faces added (addface)") == 12
    lines = report(manifest.with_name("manifest.csv.report.jsonl"))
    assert sorted((r["line"], r["op"], r["status"], r["code"]) for r in lines) == [
        (n, "newperson" if (n - 2) % 3 == 0 else "addface", "enrolled" if (n - 2) % 3 == 0 else "added", 0)
        for n in range(2, 20)
    ]
    assert all(len(str(r["request_id"])) == 36 and str(r["face_id"]) for r in lines)
    assert sorted(bench.v3_faces().values()) == [3] * 6

    runner, address = bench.serve_proxy()
    original = Conf._Conf__SERVICE_ADDR
    Conf._Conf__SERVICE_ADDR = address
    try:
        client = Client(APPID, LEGACY_ID, LEGACY_KEY, BUCKET)
        for s in range(6):
            person = f"emp-{s}"
            same = client.face_verify(person, CIFile(str(bench.photos / f"s{s}_p{HELD_OUT}.jpg")))
            assert same["code"] == 0 and same["data"]["ismatch"] in (1, True), same
            other = client.face_verify(person, CIFile(str(bench.photos / f"s{(s + 1) % 6}_p{HELD_OUT}.jpg")))
            assert other["code"] == 0 and other["data"]["ismatch"] in (0, False), other
            info = client.face_getinfo(person)["data"]
            assert (info["person_name"], info["tag"], len(info["face_ids"])) == (
                f"Name of {person}",
                f"tag-{person}",
                3,
            )
            assert sorted(info["group_ids"]) == (["site-a", "staff"] if s % 2 else ["staff"])
        for line in lines:  # every face's record is in the store, as for a face added live
            assert client.face_getfaceinfo(str(line["face_id"]))["code"] == 0
        assert sorted(client.face_getpersonids("site-a")["data"]["person_ids"]) == ["emp-1", "emp-3", "emp-5"]
    finally:
        Conf._Conf__SERVICE_ADDR = original
        bench.loop.run(runner.cleanup())


def test_over_the_emulators_quota_calls_back_off_and_no_item_fails(bench: Bench) -> None:
    bench.faults(qps_limit=8)
    manifest = bench.manifest([row(f"q-{s}", s, p) for s in range(8) for p in range(2)])
    done = bench.run(manifest, "--qps", "30", "--concurrency", "8")
    assert done.returncode == 0, done.stdout + done.stderr
    assert summary_count(done.stdout, "v3 RequestLimitExceeded absorbed") > 0
    assert summary_count(done.stdout, "rate cuts (AIMD)") > 0  # v3's 8/s is far under --qps 30
    assert statuses(manifest.with_name("manifest.csv.report.jsonl")) == {"enrolled": 8, "added": 8}
    assert sorted(bench.v3_faces().values()) == [2] * 8


def test_with_redis_the_backfill_draws_from_the_fleets_shared_budget(bench: Bench, redis_target: RedisTarget) -> None:
    config = bench.config(redis=redis_target.settings(), limits={"quota_qps": 4})
    manifest = bench.manifest([row(f"s-{s}", s, 0) for s in range(8)])
    started = time.monotonic()
    done = bench.run(manifest, "--qps", "50", "--concurrency", "1", config=config)
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    assert statuses(manifest.with_name("manifest.csv.report.jsonl")) == {"enrolled": 8}
    # 10 library calls (the first CreatePerson finds no group: CreateGroup, CreatePerson again) at the shared
    # budget's 4/s, not at --qps 50 (without redis the backfill's own cap is its only pacer)
    assert elapsed >= 9 / 4
