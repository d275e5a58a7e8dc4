"""The comparison ledger on PostgreSQL (asyncpg): the same tables as on SQLite, in the store's database.

The tables come with the store's versioned schema (proxy/store/schema.py), so opening the store
first creates them; every record batch is one transaction.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import asyncpg

from proxy.migration.ledger import (
    AGREED,
    DEFAULT_PAIRS_KEPT,
    DEFAULT_SAMPLE_SIZE,
    DISAGREED,
    DISAGREEMENT_ROWS,
    LATENCY_ROWS,
    TALLY_ROWS,
    Against,
    Disagreement,
    LatencyHistogram,
    Observation,
    StoredPair,
    Tally,
    candidate_side,
    disagreement_of,
    histograms_of,
    latency_bucket,
    tallies_of,
)

_TALLY = (
    "INSERT INTO shadow_tally (tenant, op, against, kind, count) VALUES ($1, $2, $3, $4, 1) "
    "ON CONFLICT (tenant, op, against, kind) DO UPDATE SET count = shadow_tally.count + 1"
)
_LATENCY = (
    "INSERT INTO shadow_latency (tenant, op, side, bucket, count) VALUES ($1, $2, $3, $4, 1) "
    "ON CONFLICT (tenant, op, side, bucket) DO UPDATE SET count = shadow_latency.count + 1"
)
_DISAGREEMENT = (
    "INSERT INTO shadow_disagreement (at, tenant, op, against, request_hash, control_code, candidate_code, "
    "differences, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
)
_PAIR = "INSERT INTO shadow_score_pair (tenant, op, v1, v3) VALUES ($1, $2, $3, $4)"


class PostgresLedger:
    """A Ledger over an asyncpg pool (its own, small)."""

    def __init__(
        self, pool: asyncpg.Pool, *, sample_size: int = DEFAULT_SAMPLE_SIZE, pairs_kept: int = DEFAULT_PAIRS_KEPT
    ) -> None:
        self._pool = pool
        self.sample_size = sample_size
        self.pairs_kept = pairs_kept

    async def record_many(self, observations: Sequence[Observation]) -> None:
        if not observations:
            return
        async with self._pool.acquire() as conn, conn.transaction():
            touched: set[tuple[str, str]] = set()
            for o in observations:
                c = o.comparison
                key = (o.tenant, c.op, o.against.value)
                await conn.execute(_TALLY, *key, AGREED if c.agreed else DISAGREED)
                for kind in c.differences:
                    await conn.execute(_TALLY, *key, "diff:" + kind.value)
                await conn.execute(_LATENCY, o.tenant, c.op, "v1", latency_bucket(o.control_ms))
                await conn.execute(_LATENCY, o.tenant, c.op, candidate_side(o.against), latency_bucket(o.candidate_ms))
                if not c.agreed:
                    await conn.execute(
                        _DISAGREEMENT,
                        o.at or time.time(),
                        o.tenant,
                        c.op,
                        o.against.value,
                        o.request_hash,
                        c.control_code,
                        c.candidate_code,
                        ",".join(d.value for d in c.differences),
                        c.detail,
                    )
                if o.against is Against.V3 and c.pairs:
                    await conn.executemany(_PAIR, [(o.tenant, c.op, p.v1, p.v3) for p in c.pairs])
                    touched.add((o.tenant, c.op))
            await conn.execute(
                "DELETE FROM shadow_disagreement WHERE id <= (SELECT MAX(id) FROM shadow_disagreement) - $1",
                self.sample_size,
            )
            for tenant, op in touched:
                await conn.execute(
                    "DELETE FROM shadow_score_pair WHERE tenant = $1 AND op = $2 AND id <= COALESCE("
                    "(SELECT id FROM shadow_score_pair WHERE tenant = $1 AND op = $2 "
                    "ORDER BY id DESC LIMIT 1 OFFSET $3), -1)",
                    tenant,
                    op,
                    self.pairs_kept,
                )

    async def tallies(self) -> list[Tally]:
        return tallies_of([tuple(r) for r in await self._pool.fetch(TALLY_ROWS)])

    async def disagreements(self, limit: int = 50) -> list[Disagreement]:
        return [disagreement_of(tuple(r)) for r in await self._pool.fetch(DISAGREEMENT_ROWS + "LIMIT $1", limit)]

    async def score_pairs(self, tenant: str | None = None, op: str | None = None) -> list[StoredPair]:
        rows = await self._pool.fetch(
            "SELECT tenant, op, v1, v3 FROM shadow_score_pair WHERE ($1::text IS NULL OR tenant = $1) "
            "AND ($2::text IS NULL OR op = $2) ORDER BY id",
            tenant,
            op,
        )
        return [StoredPair(str(r[0]), str(r[1]), float(r[2]), float(r[3])) for r in rows]

    async def latencies(self) -> list[LatencyHistogram]:
        return histograms_of([tuple(r) for r in await self._pool.fetch(LATENCY_ROWS)])

    async def close(self) -> None:
        await self._pool.close()
