"""Stopping and resuming a real `v1proxy backfill` process: re-runs, SIGKILL, SIGTERM, failures and --retry-failed."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

from proxy.emulator.synthetic import blank_image, subject_photo
from tests.backfill.conftest import Bench, kill, row, wait_for_report_lines
from tests.backfill.test_backfill import report, statuses

REPORT = "manifest.csv.report.jsonl"


def journal_states(bench: Bench) -> dict[str, int]:
    with sqlite3.connect(bench.store) as db:
        return dict(db.execute("SELECT state, count(*) FROM journal WHERE kind = 'backfill' GROUP BY state").fetchall())


def test_a_second_run_skips_every_done_item_and_writes_nothing(bench: Bench) -> None:
    manifest = bench.manifest([row(f"r-{s}", s, p) for s in range(3) for p in range(2)])
    assert bench.run(manifest, "--qps", "200").returncode == 0
    before = bench.v3_faces()
    again = bench.run(manifest, "--qps", "200")
    assert again.returncode == 0, again.stdout + again.stderr
    assert statuses(bench.root / REPORT) == {"skipped": 6}
    assert bench.v3_faces() == before
    assert journal_states(bench) == {"applied": 6}


def test_sigkill_mid_run_then_resume_finishes_without_a_duplicate_or_a_loss(bench: Bench) -> None:
    bench.faults(latency_ms=40)
    manifest = bench.manifest([row(f"k-{s}", s, p) for s in range(10) for p in range(4)])
    proc = bench.spawn(manifest, "--qps", "200", "--concurrency", "4")
    wait_for_report_lines(bench.root / REPORT, 10, proc)
    kill(proc, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    first = {r["key"] for r in report(bench.root / REPORT)}
    assert 10 <= len(first) < 40
    resumed = bench.run(manifest, "--qps", "200", "--concurrency", "4")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    lines = report(bench.root / REPORT)
    assert len(lines) == 40 and {r["status"] for r in lines} <= {"enrolled", "added", "skipped"}
    assert {r["key"] for r in lines if r["status"] == "skipped"} >= first
    assert sorted(bench.v3_faces().values()) == [4] * 10
    assert journal_states(bench) == {"applied": 40}


def test_sigterm_stops_at_a_clean_point_and_says_how_to_resume(bench: Bench) -> None:
    bench.faults(latency_ms=100)
    manifest = bench.manifest([row(f"t-{s}", s, p) for s in range(6) for p in range(3)])
    proc = bench.spawn(manifest, "--qps", "200", "--concurrency", "2")
    wait_for_report_lines(bench.root / REPORT, 3, proc)
    out, err = kill(proc, signal.SIGTERM)
    assert proc.returncode == 128 + signal.SIGTERM, out + err
    assert "SIGTERM: finishing the items in flight, then stopping" in err
    assert "backfill interrupted" in out
    assert "interrupted by SIGTERM at a clean point; resume with:\n  v1proxy backfill --config " in out
    assert "pending" not in journal_states(bench)  # every item started was finished
    reported = len(report(bench.root / REPORT))
    assert sum(bench.v3_faces().values()) == reported < 18
    resumed = bench.run(manifest, "--qps", "200")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert statuses(bench.root / REPORT)["skipped"] == reported
    assert sorted(bench.v3_faces().values()) == [3] * 6


def test_failed_items_are_reported_kept_failed_on_resume_and_rerun_by_retry_failed(bench: Bench) -> None:
    blanks = bench.root / "blank"
    blanks.mkdir()
    for name in ("a0.jpg", "b1.jpg"):
        (blanks / name).write_bytes(blank_image())
    rows = [
        row("fa", 0, 0, image="blank/a0.jpg"), row("fa", 0, 1), row("fa", 0, 2),  # its first photo has no face
        row("fb", 1, 0), row("fb", 1, 1, image="blank/b1.jpg"), row("fb", 1, 2),  # its second one has none
        row("fc", 2, 0),
    ]  # fmt: skip
    manifest = bench.manifest(rows)
    done = bench.run(manifest, "--qps", "200", "--concurrency", "1")
    assert done.returncode == 1, done.stdout + done.stderr
    path = bench.root / REPORT
    assert f"4 items failed; re-run them with --retry-failed {path}" in done.stdout
    by_line = {r["line"]: (r["status"], r["code"]) for r in report(path)}
    assert by_line == {
        2: ("failed", -1101), 3: ("blocked", -1101), 4: ("blocked", -1101),
        5: ("enrolled", 0), 6: ("failed", -1101), 7: ("added", 0), 8: ("enrolled", 0),
    }  # fmt: skip
    assert sorted(bench.v3_faces().values()) == [1, 2]

    again = bench.run(manifest, "--qps", "200")  # a plain resume leaves failures as they are
    assert again.returncode == 1
    assert statuses(path) == {"failed": 2, "blocked": 2, "skipped": 3}
    assert sorted(bench.v3_faces().values()) == [1, 2]

    (blanks / "a0.jpg").write_bytes(subject_photo(0, 0))  # the archive is fixed
    (blanks / "b1.jpg").write_bytes(subject_photo(1, 1))
    retried = bench.run(manifest, "--qps", "200", "--retry-failed", str(path))  # the report this run rewrites
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert f"--retry-failed {path}: 6 items of 2 persons" in retried.stdout
    assert sorted((r["line"], r["status"]) for r in report(path)) == [
        (2, "enrolled"), (3, "added"), (4, "added"), (5, "skipped"), (6, "added"), (7, "skipped"),
    ]  # fmt: skip
    assert sorted(bench.v3_faces().values()) == [1, 3, 3]


def test_a_v3_outage_fails_items_and_retry_failed_completes_them_once(bench: Bench) -> None:
    manifest = bench.manifest([row(f"o-{s}", s, p) for s in range(3) for p in range(2)])
    bench.faults(internal_error_rate=1.0)
    down = bench.run(manifest, "--qps", "200")
    assert down.returncode == 1
    assert statuses(bench.root / REPORT) == {"failed": 3, "blocked": 3}
    assert {r["code"] for r in report(bench.root / REPORT)} == {213}  # InternalError
    bench.faults(internal_error_rate=0.0)
    first_report = (bench.root / REPORT).rename(bench.root / "outage.jsonl")
    up = bench.run(manifest, "--qps", "200", "--retry-failed", str(first_report))
    assert up.returncode == 0, up.stdout + up.stderr
    assert statuses(bench.root / REPORT) == {"enrolled": 3, "added": 3}
    assert sorted(bench.v3_faces().values()) == [2, 2, 2]


def test_retry_failed_refuses_a_report_it_cannot_read(bench: Bench, tmp_path: Path) -> None:
    manifest = bench.manifest([row("x", 0, 0)])
    broken = tmp_path / "broken.jsonl"
    broken.write_text("not json\n")
    done = bench.run(manifest, "--retry-failed", str(broken))
    assert done.returncode == 2
    assert f"--retry-failed {broken}: line 1 is not a report line" in done.stderr
