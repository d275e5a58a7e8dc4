"""Transient v3 failures during a real `v1proxy backfill`: retried in the run, no duplicate, exact counts.

Faults come from the emulator's injection: per-request rules (an exact number of failures of an
action) and rates (dropped connections, malformed replies, internal errors), plus latency beyond
the client's read timeout, so that v3 applies a write whose answer the backfill never got.
"""

from __future__ import annotations

import os
import signal
import time

import requests

from tests.backfill.conftest import Bench, kill, row
from tests.backfill.test_backfill import report, statuses, summary_count

SETTLE_S = 0.5  # journal.settle_after_s in these tests: an unanswered write is read back after it
SEED = int(os.environ.get("V1PROXY_TEST_FAULT_SEED", "11"))


def rules(bench: Bench, *armed: dict[str, object]) -> None:
    reply = requests.post(f"{bench.emulator.url}/_emulator/rules", json={"rules": list(armed)}, timeout=10)
    assert reply.status_code == 200, reply.text


def test_transient_errors_are_retried_in_the_run_and_only_a_permanent_refusal_fails_an_item(bench: Bench) -> None:
    rules(
        bench,
        {"action": "CreatePerson", "code": "InternalError", "skip": 2, "times": 1},
        {"action": "CreateFace", "code": "FailedOperation.RequestTimeout", "skip": 2, "times": 2},
        {"action": "CreateFace", "code": "FailedOperation.ImageDecodeFailed", "skip": 3, "times": 1},
    )
    manifest = bench.manifest([row(f"t-{s}", s, p) for s in range(6) for p in range(3)])
    config = bench.config(journal={"settle_after_s": SETTLE_S})
    done = bench.run(manifest, "--qps", "200", "--concurrency", "3", config=config)
    assert done.returncode == 1, done.stdout + done.stderr  # one item failed: the permanent refusal
    lines = report(manifest.with_name("manifest.csv.report.jsonl"))
    assert statuses(manifest.with_name("manifest.csv.report.jsonl")) == {"enrolled": 6, "added": 11, "failed": 1}
    failed = [r for r in lines if r["status"] == "failed"]
    assert [(r["op"], r["code"]) for r in failed] == [("addface", -1102)]  # v1's "image decode failed"
    assert sum(int(str(r["retries"])) for r in lines) == 3  # the internal error and the two timeouts
    assert summary_count(done.stdout, "v3 transient errors retried") == 3
    assert summary_count(done.stdout, "failed") == 1
    faces = bench.v3_faces()  # no duplicate person or face in v3: exactly what the report says was done
    assert sorted(faces.values()) == [2, 3, 3, 3, 3, 3]
    assert len({str(r["face_id"]) for r in lines if r["status"] != "failed"}) == 17


def test_dropped_malformed_and_unanswered_writes_v3_applied_leave_no_duplicate(bench: Bench) -> None:
    # 7 % of calls fail outright (seeded); every call waits up to 340 ms in the emulator and the client
    # gives up after 300 ms: one write in eight is applied by v3 after the backfill stopped waiting
    bench.faults(drop_rate=0.03, malformed_rate=0.02, internal_error_rate=0.02, jitter_ms=340, seed=SEED)
    persons, photos = 5, 3
    manifest = bench.manifest([row(f"d-{s}", s, p) for s in range(persons) for p in range(photos)])
    config = bench.config(
        journal={"settle_after_s": SETTLE_S},
        upstream={"read_timeout": 0.3},
    )
    done = bench.run(manifest, "--qps", "200", "--concurrency", "1", config=config, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert statuses(manifest.with_name("manifest.csv.report.jsonl")) == {"enrolled": persons, "added": persons * 2}
    retried = summary_count(done.stdout, "v3 transient errors retried")
    assert retried > 0  # the faults did hit backfill calls
    lines = report(manifest.with_name("manifest.csv.report.jsonl"))
    assert sum(int(str(r["retries"])) for r in lines) == retried
    faces = bench.v3_faces()
    assert faces == {p: photos for p in faces} and len(faces) == persons  # no duplicate person, no duplicate face
    assert len({str(r["face_id"]) for r in lines}) == persons * photos


def test_persons_started_at_once_into_a_new_group_wait_for_the_first_to_create_it(bench: Bench) -> None:
    bench.faults(qps_limit=10_000)  # only to have the emulator count every call it serves
    manifest = bench.manifest([row(f"g-{s}", s, 0, groups="new-group") for s in range(8)])
    done = bench.run(manifest, "--qps", "200", "--concurrency", "8")
    assert done.returncode == 0, done.stdout + done.stderr
    stats = requests.get(f"{bench.emulator.url}/_emulator/stats", timeout=10).json()
    # the first CreatePerson finds no group, CreateGroup, CreatePerson again; the 7 others then go straight
    # through (without waiting for it, each of them would have been refused first: up to 17 calls)
    assert (len(stats["admitted_at"]), stats["throttled"]) == (10, 0)


def test_a_stop_while_an_item_waits_to_be_retried_leaves_it_pending_for_the_resume(bench: Bench) -> None:
    rules(bench, {"action": "CreatePerson", "code": "InternalError", "times": 1000})
    manifest = bench.manifest([row("w-0", 0, 0), row("w-0", 0, 1)])
    config = bench.config(journal={"settle_after_s": 60})  # the pause before the retry: a minute
    proc = bench.spawn(manifest, "--qps", "200", "--concurrency", "1", config=config)
    deadline = time.monotonic() + 30
    while pending_failures(bench) == 1000:  # until the first CreatePerson failed
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    stopped = time.monotonic()
    out, err = kill(proc, signal.SIGTERM)
    assert time.monotonic() - stopped < 10  # not the minute's pause, nor five more attempts
    assert proc.returncode == 128 + signal.SIGTERM.value, out + err
    assert summary_count(out, "not reached") == 2
    assert report(manifest.with_name("manifest.csv.report.jsonl")) == []  # nothing failed: left pending
    rules_reset(bench)
    done = bench.run(manifest, "--qps", "200", config=config)
    assert done.returncode == 0, done.stdout + done.stderr
    assert statuses(manifest.with_name("manifest.csv.report.jsonl")) == {"enrolled": 1, "added": 1}
    assert bench.v3_faces() == {next(iter(bench.v3_faces())): 2}


def pending_failures(bench: Bench) -> int:
    armed = requests.get(f"{bench.emulator.url}/_emulator/rules", timeout=10).json()["rules"]
    return sum(int(r["times"]) for r in armed)


def rules_reset(bench: Bench) -> None:
    reply = requests.post(f"{bench.emulator.url}/_emulator/rules", json={"reset": True}, timeout=10)
    assert reply.status_code == 200, reply.text
