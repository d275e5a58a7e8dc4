"""The `backfill` phase: N synthetic faces at --qps 50 into an emulator limited to 50/s, one SIGKILL and a resume;
then peak RSS of a dry run over a 1,000-row and a 100,000-row manifest.

Ideal time: the faces need one v3 write each (faces.capture_attributes off), so N / qps seconds; the
run (both processes, start-up included) is compared with it. Duplicates and losses are counted from
v3 itself (GetPersonList, which lists every person's FaceIds) against the manifest.
"""

from __future__ import annotations

import csv
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from proxy.emulator.facemodel import FaceModel
from proxy.emulator.synthetic import subject_photo
from proxy.translate.scope import Scope
from tests.bench.harness import CLIENT_CORE, PYTHON, REPO, SERVER_CORE, V1PROXY, pinned, start

APPID = "1250000099"
GROUP = "bench-backfill"
QPS = 50
FACES_PER_PERSON = 5
SUBJECTS = 100  # distinct synthetic subjects (each person is one of them: 5 photos of the same face)
ADMISSION = 60.0  # CreateFace's default FaceMatchThreshold in the emulator: every pair of a subject's photos above it
KILL_AT = 0.3  # share of the report written when the first run is SIGKILLed
RSS_ROWS = (1_000, 100_000)
RSS_TARGET = 0.10  # peak RSS within 10 % between the two manifests
TIME_TARGET = 0.05  # within 5 % of the ideal time

V3Call = Callable[[str, str, dict[str, Any]], dict[str, Any]]


def write_photos(folder: Path) -> None:
    """SUBJECTS subjects' photos as s<i>_p<j>.jpg, keeping only subjects whose photos all match each other
    (a few synthetic subjects have a shot the model scores low against another: CreateFace would refuse it)."""
    folder.mkdir(parents=True, exist_ok=True)
    model = FaceModel()
    kept, subject = 0, 0
    while kept < SUBJECTS:
        photos = [subject_photo(subject, photo) for photo in range(FACES_PER_PERSON)]
        faces = [model.analyze(p).faces[0] for p in photos]
        if all(FaceModel.score(a, b) >= ADMISSION for i, a in enumerate(faces) for b in faces[i + 1 :]):
            for photo, data in enumerate(photos):
                (folder / f"s{kept}_p{photo}.jpg").write_bytes(data)
            kept += 1
        subject += 1


def write_manifest(path: Path, faces: int, seed: int = 7) -> int:
    """A CSV of `faces` rows (5 per person, rows of one person scattered by a shuffle); the number of persons."""
    persons = faces // FACES_PER_PERSON
    order = list(range(persons * FACES_PER_PERSON))
    random.Random(seed).shuffle(order)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["appid", "bucket", "person_id", "group_ids", "person_name", "tag", "image"])
        for n in order:
            person, photo = divmod(n, FACES_PER_PERSON)
            subject = person % SUBJECTS
            writer.writerow(
                [APPID, "", f"b{person:07d}", GROUP, f"Person {person}", "", f"photos/s{subject}_p{photo}.jpg"]
            )
    return persons


def write_config(path: Path, emulator_url: str, v3_id: str, v3_key: str) -> None:
    path.write_text(
        yaml.safe_dump(
            {
                "upstream": {"endpoint": emulator_url, "secret_id": v3_id, "secret_key": v3_key},
                "tenants": [{"appid": APPID, "legacy_keys": [{"secret_id": "AKIDbenchBackfill", "secret_key": "k"}]}],
                "store": {"url": f"sqlite:///{path.parent / 'meta.db'}"},
                "faces": {"capture_attributes": False},
                "logging": {"level": "warning"},
            }
        )
    )


def peak_rss_kb(argv: list[str], cwd: Path) -> tuple[int, float, int]:
    """Run argv in a fresh interpreter that waits for it: (the child's peak RSS in kB, seconds, exit code)."""
    probe = (
        "import resource, subprocess, sys, time; t = time.monotonic(); "
        "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode; "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.monotonic() - t, rc)"
    )
    done = subprocess.run([PYTHON, "-c", probe, *argv], capture_output=True, text=True, cwd=cwd, check=True)
    kb, seconds, rc = done.stdout.split()
    return int(kb), float(seconds), int(rc)


def v3_inventory(v3_call: V3Call, url: str) -> dict[str, int]:
    """Every person of the group and its face count, read from v3 (waiting out the emulator's QPS limit)."""
    faces: dict[str, int] = {}
    offset = 0
    while True:
        params = {"GroupId": Scope.of(APPID, None).v3_id(GROUP), "Offset": offset, "Limit": 1000}
        reply = v3_call(url, "GetPersonList", params)
        if "Error" in reply:
            if reply["Error"]["Code"] == "RequestLimitExceeded":
                time.sleep(1.0)
                continue
            raise RuntimeError(f"GetPersonList: {reply['Error']}")
        page = reply.get("PersonInfos") or []
        faces.update({p["PersonId"]: len(p.get("FaceIds") or []) for p in page})
        offset += len(page)
        if len(page) < 1000:
            return faces


def backfill_phase(
    workdir: Path, *, faces: int, v3_call: V3Call, v3_id: str, v3_key: str, notes: list[str]
) -> dict[str, Any]:
    root = workdir / "backfill"
    root.mkdir(parents=True, exist_ok=True)
    write_photos(root / "photos")
    manifest = root / "archive.csv"
    persons = write_manifest(manifest, faces)
    emulator = start(
        "emulator-backfill",
        [V1PROXY, "emulator", "--host", "127.0.0.1", "--port", "0", "--secret-id", v3_id, "--secret-key", v3_key,
         "--qps-limit", str(QPS)],
        ready="listening on", workdir=workdir, core=CLIENT_CORE,
    )  # fmt: skip
    try:
        config = root / "config.yaml"
        write_config(config, emulator.url, v3_id, v3_key)
        argv = pinned(
            SERVER_CORE,
            [V1PROXY, "backfill", "--config", str(config), "--manifest", str(manifest), "--qps", str(QPS),
             "--concurrency", "16", "--progress-every", "10"],
        )  # fmt: skip
        report = manifest.with_name(manifest.name + ".report.jsonl")
        started = time.monotonic()
        first = subprocess.Popen(argv, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        while first.poll() is None and (not report.exists() or _lines(report) < faces * KILL_AT):
            time.sleep(0.05)
        os.kill(first.pid, signal.SIGKILL)
        first.communicate()
        killed_after = time.monotonic() - started
        done_before_kill = _lines(report)
        print(f"  backfill: SIGKILL after {killed_after:.1f} s, {done_before_kill} items reported", flush=True)
        resumed = time.monotonic()
        second = subprocess.run(argv, cwd=root, capture_output=True, text=True, check=False)
        resumed_s = time.monotonic() - resumed
        total_s = killed_after + resumed_s
        sys.stdout.write("".join(f"    {line}\n" for line in second.stdout.splitlines()[-16:]))
        inventory = v3_inventory(v3_call, emulator.url)
    finally:
        emulator.stop()
    ideal_s = faces / QPS
    duplicates = sum(max(0, n - FACES_PER_PERSON) for n in inventory.values())
    lost = (persons - len(inventory)) * FACES_PER_PERSON + sum(max(0, FACES_PER_PERSON - n) for n in inventory.values())
    statuses: dict[str, int] = {}
    for line in report.read_text().splitlines():
        status = line.split('"status":"', 1)[1].split('"', 1)[0]
        statuses[status] = statuses.get(status, 0) + 1
    rss: dict[str, Any] = {}
    for rows in RSS_ROWS:
        big = root / f"rss-{rows}.csv"
        write_manifest(big, rows, seed=rows)
        kb, seconds, rc = peak_rss_kb(
            [V1PROXY, "backfill", "--config", str(config), "--manifest", str(big), "--dry-run"], root
        )
        rss[str(rows)] = {"peak_rss_kb": kb, "seconds": round(seconds, 1), "exit": rc}
        print(f"  backfill dry run, {rows} rows: peak RSS {kb / 1024:.1f} MB, {seconds:.1f} s, exit {rc}", flush=True)
    if second.returncode != 0:
        notes.append(f"backfill: the resumed run exited {second.returncode}: {second.stderr[-500:]}")
    return {
        "faces": faces,
        "persons": persons,
        "qps": QPS,
        "ideal_s": ideal_s,
        "killed_after_s": round(killed_after, 1),
        "reported_before_kill": done_before_kill,
        "resumed_s": round(resumed_s, 1),
        "total_s": round(total_s, 1),
        "resumed_exit": second.returncode,
        "statuses_after_resume": statuses,
        "v3_persons": len(inventory),
        "v3_faces": sum(inventory.values()),
        "duplicates": duplicates,
        "lost": lost,
        "rss": rss,
        "command": " ".join(["v1proxy", *argv[argv.index("backfill") :]]).replace(str(REPO) + "/", ""),
    }


def _lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def target_lines(entry: dict[str, Any]) -> list[str]:
    over = entry["total_s"] / entry["ideal_s"] - 1
    small, big = (entry["rss"][str(n)]["peak_rss_kb"] for n in RSS_ROWS)
    growth = big / small - 1
    return [
        f"- backfill: {entry['faces']} faces at --qps {entry['qps']} (emulator --qps-limit {entry['qps']}), "
        f"SIGKILL after {entry['killed_after_s']} s + resume {entry['resumed_s']} s = {entry['total_s']} s vs ideal "
        f"{entry['ideal_s']:.0f} s: {100 * over:+.1f} % (target ≤ {100 * TIME_TARGET:.0f} %): "
        f"{'met' if over <= TIME_TARGET else 'NOT met'}",
        f"- backfill: v3 holds {entry['v3_persons']}/{entry['persons']} persons, {entry['v3_faces']} faces; "
        f"duplicates {entry['duplicates']}, lost {entry['lost']} (target 0 and 0): "
        f"{'met' if entry['duplicates'] == 0 and entry['lost'] == 0 else 'NOT met'}",
        f"- backfill dry run peak RSS: {RSS_ROWS[0]} rows {small / 1024:.1f} MB, {RSS_ROWS[1]} rows "
        f"{big / 1024:.1f} MB: {100 * growth:+.1f} % (target within ±{100 * RSS_TARGET:.0f} %): "
        f"{'met' if abs(growth) <= RSS_TARGET else 'NOT met'}",
    ]
