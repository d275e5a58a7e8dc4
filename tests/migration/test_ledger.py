"""The comparison ledger: tallies by kind, rotating samples, score pairs and latencies survive a reopen."""

from __future__ import annotations

from pathlib import Path

from proxy.migration.compare import Comparison, Difference, ScorePair
from proxy.migration.ledger import LATENCY_BOUNDS_MS, Against, Observation, SqliteLedger, latency_bucket


def observation(i: int, *, agreed: bool, op: str = "verify", against: Against = Against.V3) -> Observation:
    differences = () if agreed else (Difference.DECISION,)
    comparison = Comparison(op, differences, 0, 0, pairs=(ScorePair(50.0 + i % 40, 30.0 + i % 40),), detail=f"#{i}")
    return Observation("1250000000", against, comparison, f"{i:08x}", control_ms=3.0, candidate_ms=40.0, at=1000.0 + i)


def test_tallies_samples_and_pairs_survive_reopening(tmp_path: Path) -> None:
    path = str(tmp_path / "meta.db")
    ledger = SqliteLedger(path, sample_size=5, pairs_kept=100)
    ledger.record_many_now(observation(i, agreed=i % 4 != 0) for i in range(40))  # 10 disagree
    ledger.record_many_now([observation(99, agreed=False, against=Against.V1)])
    ledger.close_now()

    again = SqliteLedger(path, sample_size=5, pairs_kept=100)
    tallies = {(t.op, t.against): t for t in again.tallies_now()}
    v3 = tallies[("verify", Against.V3)]
    assert (v3.compared, v3.agreed, v3.disagreed, v3.by_kind) == (40, 30, 10, (("decision", 10),))
    noise = tallies[("verify", Against.V1)]
    assert (noise.compared, noise.agreed) == (1, 0)
    kept = again.disagreements_now(limit=50)
    assert [d.detail for d in kept] == ["#99", "#36", "#32", "#28", "#24"]  # the latest 5, newest first
    assert kept[0].against is Against.V1 and kept[1].differences == ("decision",)
    assert len(again.score_pairs_now()) == 40  # pairs only against v3
    latency = {h.side: h for h in again.latencies_now()}
    assert latency["v1"].total == 41 and latency["v3"].total == 40 and latency["v1-replay"].total == 1
    assert latency["v1"].quantile(0.5) == 5 and latency["v3"].quantile(0.5) == 50


def test_score_pairs_rotate_per_tenant_and_op(tmp_path: Path) -> None:
    ledger = SqliteLedger(str(tmp_path / "meta.db"), pairs_kept=10)
    ledger.record_many_now(observation(i, agreed=True, op="compare") for i in range(3))
    interleaved = [observation(i, agreed=True, op=op) for i in range(25) for op in ("verify", "identify")]
    ledger.record_many_now(interleaved[:20])
    ledger.record_many_now(interleaved[20:])
    verify = ledger.score_pairs_now(op="verify")
    assert len(verify) == 10 and verify[-1].v1 == 50.0 + 24 % 40 and verify[0].v1 == 50.0 + 15
    assert len(ledger.score_pairs_now("1250000000", "compare")) == 3
    assert ledger.score_pairs_now("someone-else") == []


def test_latency_buckets() -> None:
    assert latency_bucket(0.2) == 0 and latency_bucket(1.0) == 0 and latency_bucket(1.01) == 1
    assert latency_bucket(10**9) == len(LATENCY_BOUNDS_MS) - 1
