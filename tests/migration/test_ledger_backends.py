"""The Ledger protocol on both databases the store supports, opened as the proxy opens it (after the store)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from proxy.app import open_configured_store
from proxy.migration.compare import Comparison, Difference, ScorePair
from proxy.migration.ledger import Against, Ledger, Observation
from proxy.migration.ledger_open import open_ledger
from proxy.settings import parse_settings
from tests.fixtures_pg import create_schema, drop_schema, with_schema
from tests.test_settings import minimal


@pytest.fixture(params=["sqlite", "postgresql"])
async def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Ledger]:
    schema = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'meta.db'}"
    else:
        server = request.getfixturevalue("postgres_server")
        schema = await create_schema(server)
        url = with_schema(server, schema)
    settings = parse_settings(minimal(store={"url": url}, shadow={"disagreements_kept": 3, "pairs_kept": 10}))
    store = await open_configured_store(settings)  # the store's schema brings the ledger's tables
    await store.close()
    opened = await open_ledger(settings)
    try:
        yield opened
    finally:
        await opened.close()
        if schema is not None:
            await drop_schema(server, schema)


def seen(i: int, op: str, *, agreed: bool, against: Against = Against.V3) -> Observation:
    comparison = Comparison(
        op,
        () if agreed else (Difference.DECISION, Difference.OUTCOME),
        0,
        0 if agreed else -1101,
        pairs=(ScorePair(60.0 + i, 40.0 + i),),
        detail=f"#{i}",
    )
    return Observation("1250000000", against, comparison, f"h{i}", control_ms=3.0, candidate_ms=700.0, at=10.0 + i)


async def test_tallies_rotation_pairs_and_latency(ledger: Ledger) -> None:
    await ledger.record_many([seen(i, op, agreed=i % 3 != 0) for i in range(30) for op in ("verify", "compare")])
    await ledger.record_many([seen(99, "verify", agreed=False, against=Against.V1)])
    tallies = {(t.op, t.against): t for t in await ledger.tallies()}
    verify = tallies[("verify", Against.V3)]
    assert (verify.compared, verify.agreed, verify.by_kind) == (30, 20, (("decision", 10), ("outcome", 10)))
    assert (tallies[("verify", Against.V1)].compared, tallies[("verify", Against.V1)].agreed) == (1, 0)
    kept = await ledger.disagreements(limit=10)
    assert [d.detail for d in kept] == ["#99", "#27", "#27"]  # disagreements_kept 3, newest first
    assert kept[0].against is Against.V1 and kept[1].differences == ("decision", "outcome")
    assert kept[1].candidate_code == -1101 and kept[1].at == 37.0
    pairs = await ledger.score_pairs(op="compare")
    assert [p.v1 for p in pairs] == [60.0 + i for i in range(20, 30)]  # pairs_kept 10 per tenant × op
    assert await ledger.score_pairs("1250000000", "verify") != [] and await ledger.score_pairs("other") == []
    latency = {(h.op, h.side): h for h in await ledger.latencies()}
    assert latency[("verify", "v3")].quantile(0.5) == 1000 and latency[("verify", "v1")].total == 31
    assert latency[("verify", "v1-replay")].total == 1
