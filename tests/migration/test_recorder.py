"""The recorder: verdicts counted in Prometheus at once, persisted in batches; raw scores captured per task."""

from __future__ import annotations

import asyncio
from pathlib import Path

from prometheus_client import CollectorRegistry

from proxy.domain.results import VerifyResult
from proxy.migration.compare import Judge
from proxy.migration.ledger import Against, SqliteLedger, latency_bucket
from proxy.migration.outbox import SettledWrite
from proxy.migration.recorder import (
    ComparisonMetrics,
    ComparisonRecorder,
    answer_of_reply,
    answer_of_result,
    request_digest,
)
from proxy.migration.routes import Side
from proxy.migration.scoretap import capturing, tap_observer
from proxy.migration.shadowing import ShadowComparer
from proxy.settings import parse_settings
from proxy.v1.errors import V1Error
from tests.test_settings import minimal


async def test_counts_now_and_ledger_after_flush(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    recorder = ComparisonRecorder(SqliteLedger(str(tmp_path / "m.db")), ComparisonMetrics(registry), flush_s=60)
    recorder.start()
    v1 = answer_of_reply(b'{"code": 0, "message": "OK", "data": {"confidence": 81.5, "ismatch": true}}')
    for confidence, raw in ((85.0, 55.0), (70.0, 45.0)):
        v3 = answer_of_result(VerifyResult(session_id="s", confidence=confidence, ismatch=False), (raw,))
        recorder.record(
            tenant="1250000000", op="verify", against=Against.V3, control=v1, candidate=v3, judge=Judge(80.0),
            request_hash=request_digest("/face/verify", b"body"), control_ms=3.0, candidate_ms=12.0,
        )  # fmt: skip
    labels = {"tenant": "1250000000", "op": "verify", "against": "v3"}
    assert registry.get_sample_value("v1proxy_shadow_comparisons_total", {**labels, "result": "agreed"}) == 1
    assert registry.get_sample_value("v1proxy_shadow_comparisons_total", {**labels, "result": "disagreed"}) == 1
    assert registry.get_sample_value("v1proxy_shadow_differences_total", {**labels, "kind": "decision"}) == 1
    assert await recorder.ledger.tallies() == []  # not yet written
    await recorder.flush()
    (tally,) = await recorder.ledger.tallies()
    assert (tally.compared, tally.agreed) == (2, 1)
    assert [(p.v1, p.v3) for p in await recorder.ledger.score_pairs()] == [(81.5, 55.0), (81.5, 45.0)]
    await recorder.close()
    again = SqliteLedger(str(tmp_path / "m.db"))
    assert again.tallies_now()[0].compared == 2


def test_answers_from_errors_and_garbage() -> None:
    error = answer_of_result(V1Error(-1101, "no face"))
    assert (error.code, error.data) == (-1101, {"session_id": ""})
    assert answer_of_reply(b"<html>bad gateway</html>").code == -99999
    assert request_digest("/face/verify", b"a") != request_digest("/face/verify", b"b")
    assert len(request_digest("/x", b"")) == 32


async def test_raw_scores_are_captured_per_task() -> None:
    seen: list[tuple[float, float]] = []
    observe = tap_observer(lambda raw, cal: seen.append((raw, cal)))

    async def twin(raws: list[float]) -> list[float]:
        with capturing() as scores:
            for raw in raws:
                observe(raw, raw * 2)
                await asyncio.sleep(0)
        return scores

    a, b = await asyncio.gather(twin([1.0, 2.0]), twin([3.0]))
    assert (a, b) == ([1.0, 2.0], [3.0])
    observe(9.0, 18.0)  # outside a capture: only the plain observer sees it
    assert len(seen) == 4


def settled(served: Side, *, applied: bool, code: int, faces: tuple[int, int] | None = None) -> SettledWrite:
    return SettledWrite(
        tenant="1250000000", op="addface", served=served, served_code=0, target_code=code, applied=applied,
        message="" if applied else "person gone", served_ms=4.0, target_ms=900.0, attempts=2, entry_id=12,
        request_hash="h", faces_added=faces,
    )  # fmt: skip


async def test_settled_dual_writes_are_recorded_v1_against_v3_whichever_side_served(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    recorder = ComparisonRecorder(SqliteLedger(str(tmp_path / "m.db")), ComparisonMetrics(registry), flush_s=60)
    comparer = ShadowComparer(recorder, lambda: parse_settings(minimal()), replay=None)  # type: ignore[arg-type]
    comparer.observe_write(settled(Side.V1, applied=True, code=0, faces=(2, 2)))  # v3 did what v1 did
    comparer.observe_write(settled(Side.V1, applied=False, code=-1303))  # v3 refused what v1 did
    comparer.observe_write(settled(Side.V3, applied=False, code=-1303))  # v1 refused what v3 did
    comparer.observe_write(settled(Side.V3, applied=True, code=0, faces=(5, 6)))  # v3 (served) took 5, v1 6
    await recorder.flush()
    (tally,) = await recorder.ledger.tallies()
    assert (tally.op, tally.against, tally.compared, tally.agreed) == ("addface", Against.V3, 4, 1)
    assert tally.by_kind == (("face_count", 1), ("outcome", 2))
    kept = await recorder.ledger.disagreements()
    assert [(d.control_code, d.candidate_code) for d in kept] == [(0, 0), (-1303, 0), (0, -1303)]  # newest first
    assert kept[0].detail == "images accepted 6 (v1) vs 5 (v3)"
    assert kept[1].detail == "code -1303 vs 0: v1 refused after 2 attempts (outbox entry 12): person gone"
    assert kept[2].detail == "code 0 vs -1303: v3 refused after 2 attempts (outbox entry 12): person gone"
    sides = {h.side: h.counts for h in await recorder.ledger.latencies()}
    fast, slow = latency_bucket(4.0), latency_bucket(900.0)  # served in 4 ms, replayed in 900 ms
    assert {side: (counts[fast], counts[slow], sum(counts)) for side, counts in sides.items()} == {
        "v1": (2, 2, 4),
        "v3": (2, 2, 4),
    }
    labels = {"tenant": "1250000000", "op": "addface", "against": "v3", "result": "disagreed"}
    assert registry.get_sample_value("v1proxy_shadow_comparisons_total", labels) == 3
    await recorder.close()


async def test_the_queue_for_the_ledger_is_bounded(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    metrics = ComparisonMetrics(registry)
    recorder = ComparisonRecorder(SqliteLedger(str(tmp_path / "m.db")), metrics, flush_s=60, max_queued=2)
    comparer = ShadowComparer(recorder, lambda: parse_settings(minimal()), replay=None)  # type: ignore[arg-type]
    for _ in range(5):
        comparer.observe_write(settled(Side.V1, applied=True, code=0))
    labels = {"tenant": "1250000000", "op": "addface", "against": "v3", "result": "agreed"}
    assert registry.get_sample_value("v1proxy_shadow_comparisons_total", labels) == 5  # every verdict counted
    full = {"tenant": "1250000000", "call": "ledger", "reason": "queue_full"}
    assert registry.get_sample_value("v1proxy_shadow_skipped_total", full) == 3
    await recorder.flush()
    (tally,) = await recorder.ledger.tallies()
    assert tally.compared == 2  # only what the queue held
    comparer.observe_write(settled(Side.V1, applied=True, code=0))  # room again once written
    await recorder.close()
    assert SqliteLedger(str(tmp_path / "m.db")).tallies_now()[0].compared == 3
