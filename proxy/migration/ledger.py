"""Where shadow comparisons are kept across restarts: tallies, a rotating sample of disagreements,
score pairs for calibration and latency histograms, per tenant × op (SQLite; images never)."""

from __future__ import annotations

import asyncio
import bisect
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from proxy.migration.compare import Comparison
from proxy.store.schema import SHADOW_SQLITE

# latency histogram bucket upper bounds, in milliseconds (the last one catches everything)
LATENCY_BOUNDS_MS: tuple[float, ...] = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, float("inf"))
DEFAULT_SAMPLE_SIZE = 200  # disagreements kept (the latest)
DEFAULT_PAIRS_KEPT = 100_000  # score pairs kept per tenant × op (the latest)
AGREED = "agreed"
DISAGREED = "disagreed"


class Against(StrEnum):
    """What v1's answer was compared with: v3 (the migration) or v1 again (noise)."""

    V3 = "v3"
    V1 = "v1"


@dataclass(frozen=True, slots=True)
class Observation:
    """One comparison with where it came from: tenant, op, a hash of the request, both latencies."""

    tenant: str
    against: Against
    comparison: Comparison
    request_hash: str  # a digest of the request (no image, no signature can be recovered from it)
    control_ms: float
    candidate_ms: float
    at: float = 0.0  # unix time; 0: now


@dataclass(frozen=True, slots=True)
class Tally:
    """Counts for one tenant × op × against: compared, agreed, and disagreements by kind."""

    tenant: str
    op: str
    against: Against
    compared: int
    agreed: int
    by_kind: tuple[tuple[str, int], ...]

    @property
    def disagreed(self) -> int:
        return self.compared - self.agreed


@dataclass(frozen=True, slots=True)
class Disagreement:
    """One kept disagreement: when, which tenant/op, the request's hash, codes and what differed."""

    at: float
    tenant: str
    op: str
    against: Against
    request_hash: str
    control_code: int
    candidate_code: int
    differences: tuple[str, ...]
    detail: str


@dataclass(frozen=True, slots=True)
class LatencyHistogram:
    """Counts per LATENCY_BOUNDS_MS bucket for one tenant × op × side (v1, v3, v1-replay)."""

    tenant: str
    op: str
    side: str
    counts: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.counts)

    def quantile(self, q: float) -> float | None:
        """The upper bound (ms) of the bucket holding quantile ``q``; None when empty."""
        total = self.total
        if not total:
            return None
        rank = q * total
        seen = 0
        for bound, count in zip(LATENCY_BOUNDS_MS, self.counts, strict=True):
            seen += count
            if seen >= rank and count:
                return bound
        return LATENCY_BOUNDS_MS[-1]


@dataclass(frozen=True, slots=True)
class StoredPair:
    tenant: str
    op: str
    v1: float
    v3: float


def latency_bucket(ms: float) -> int:
    return min(bisect.bisect_left(LATENCY_BOUNDS_MS, ms), len(LATENCY_BOUNDS_MS) - 1)


TALLY_ROWS = "SELECT tenant, op, against, kind, count FROM shadow_tally ORDER BY tenant, op, against, kind"
DISAGREEMENT_ROWS = (
    "SELECT at, tenant, op, against, request_hash, control_code, candidate_code, differences, detail "
    "FROM shadow_disagreement ORDER BY id DESC "
)
LATENCY_ROWS = "SELECT tenant, op, side, bucket, count FROM shadow_latency ORDER BY tenant, op, side"


def tallies_of(rows: Iterable[Sequence[Any]]) -> list[Tally]:
    """Tallies from (tenant, op, against, kind, count) rows: kind is agreed, disagreed or diff:<Difference>."""
    counts: dict[tuple[str, str, str], dict[str, int]] = {}
    for tenant, op, against, kind, count in rows:
        counts.setdefault((str(tenant), str(op), str(against)), {})[str(kind)] = int(count)
    out = []
    for (tenant, op, against), kinds in counts.items():
        agreed = kinds.get(AGREED, 0)
        by_kind = tuple(sorted((k[5:], n) for k, n in kinds.items() if k.startswith("diff:")))
        out.append(Tally(tenant, op, Against(against), agreed + kinds.get(DISAGREED, 0), agreed, by_kind))
    return out


def disagreement_of(r: Sequence[Any]) -> Disagreement:
    return Disagreement(
        float(r[0]),
        str(r[1]),
        str(r[2]),
        Against(str(r[3])),
        str(r[4]),
        int(r[5]),
        int(r[6]),
        tuple(d for d in str(r[7]).split(",") if d),
        str(r[8]),
    )


def histograms_of(rows: Iterable[Sequence[Any]]) -> list[LatencyHistogram]:
    hist: dict[tuple[str, str, str], list[int]] = {}
    for tenant, op, side, bucket, count in rows:
        counts = hist.setdefault((str(tenant), str(op), str(side)), [0] * len(LATENCY_BOUNDS_MS))
        counts[int(bucket)] += int(count)
    return [LatencyHistogram(t, o, s, tuple(c)) for (t, o, s), c in hist.items()]


def candidate_side(against: Against) -> str:
    return "v3" if against is Against.V3 else "v1-replay"


_BUMP = {
    "tally": "INSERT INTO shadow_tally (tenant, op, against, kind, count) VALUES (?, ?, ?, ?, 1) "
    "ON CONFLICT (tenant, op, against, kind) DO UPDATE SET count = count + 1",
    "latency": "INSERT INTO shadow_latency (tenant, op, side, bucket, count) VALUES (?, ?, ?, ?, 1) "
    "ON CONFLICT (tenant, op, side, bucket) DO UPDATE SET count = count + 1",
}


class Ledger(Protocol):
    """Where comparisons are kept: the store's database (SQLite file or PostgreSQL), own tables."""

    sample_size: int  # disagreements kept (the latest); may change between batches (a reload)
    pairs_kept: int  # score pairs kept per tenant × op (the latest)

    async def record_many(self, observations: Sequence[Observation]) -> None:
        """Count each comparison; keep the disagreements (rotating) and, against v3, the score pairs."""
        ...

    async def tallies(self) -> list[Tally]: ...

    async def disagreements(self, limit: int = 50) -> list[Disagreement]:
        """The latest kept disagreements, newest first."""
        ...

    async def score_pairs(self, tenant: str | None = None, op: str | None = None) -> list[StoredPair]:
        """Stored pairs in the order they were kept, optionally of one tenant and/or op."""
        ...

    async def latencies(self) -> list[LatencyHistogram]: ...

    async def close(self) -> None: ...


class SqliteLedger:
    """The comparison ledger on one SQLite file (its own tables beside the store's), thread-safe."""

    def __init__(
        self, path: str, *, sample_size: int = DEFAULT_SAMPLE_SIZE, pairs_kept: int = DEFAULT_PAIRS_KEPT
    ) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, timeout=5.0, check_same_thread=False)
        self._lock = threading.Lock()
        self.sample_size = sample_size
        self.pairs_kept = pairs_kept
        with self._lock:
            if path != ":memory:":
                self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._transaction(lambda db: [db.execute(s) for s in SHADOW_SQLITE])

    def _transaction(self, work: Callable[[sqlite3.Connection], object]) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            work(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def record_many_now(self, observations: Iterable[Observation]) -> None:
        batch = list(observations)
        if not batch:
            return

        def write(db: sqlite3.Connection) -> None:
            touched: set[tuple[str, str]] = set()
            for o in batch:
                c = o.comparison
                key = (o.tenant, c.op, o.against.value)
                db.execute(_BUMP["tally"], (*key, AGREED if c.agreed else DISAGREED))
                for kind in c.differences:
                    db.execute(_BUMP["tally"], (*key, "diff:" + kind.value))
                db.execute(_BUMP["latency"], (o.tenant, c.op, "v1", latency_bucket(o.control_ms)))
                side = candidate_side(o.against)
                db.execute(_BUMP["latency"], (o.tenant, c.op, side, latency_bucket(o.candidate_ms)))
                if not c.agreed:
                    db.execute(
                        "INSERT INTO shadow_disagreement (at, tenant, op, against, request_hash, control_code, "
                        "candidate_code, differences, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            o.at or time.time(),
                            o.tenant,
                            c.op,
                            o.against.value,
                            o.request_hash,
                            c.control_code,
                            c.candidate_code,
                            ",".join(d.value for d in c.differences),
                            c.detail,
                        ),
                    )
                if o.against is Against.V3 and c.pairs:
                    db.executemany(
                        "INSERT INTO shadow_score_pair (tenant, op, v1, v3) VALUES (?, ?, ?, ?)",
                        [(o.tenant, c.op, p.v1, p.v3) for p in c.pairs],
                    )
                    touched.add((o.tenant, c.op))
            db.execute(
                "DELETE FROM shadow_disagreement WHERE id <= (SELECT MAX(id) FROM shadow_disagreement) - ?",
                (self.sample_size,),
            )
            for tenant, op in touched:
                db.execute(
                    "DELETE FROM shadow_score_pair WHERE tenant = ? AND op = ? AND id <= COALESCE("
                    "(SELECT id FROM shadow_score_pair WHERE tenant = ? AND op = ? "
                    "ORDER BY id DESC LIMIT 1 OFFSET ?), -1)",
                    (tenant, op, tenant, op, self.pairs_kept),
                )

        with self._lock:
            self._transaction(write)

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def tallies_now(self) -> list[Tally]:
        return tallies_of(self._rows(TALLY_ROWS))

    def disagreements_now(self, limit: int = 50) -> list[Disagreement]:
        return [disagreement_of(r) for r in self._rows(DISAGREEMENT_ROWS + "LIMIT ?", (limit,))]

    def score_pairs_now(self, tenant: str | None = None, op: str | None = None) -> list[StoredPair]:
        """Stored pairs in the order they were kept, optionally of one tenant and/or op."""
        sql = "SELECT tenant, op, v1, v3 FROM shadow_score_pair WHERE (? IS NULL OR tenant = ?) "
        sql += "AND (? IS NULL OR op = ?) ORDER BY id"
        return [
            StoredPair(str(t), str(o), float(v1), float(v3))
            for t, o, v1, v3 in self._rows(sql, (tenant, tenant, op, op))
        ]

    def latencies_now(self) -> list[LatencyHistogram]:
        return histograms_of(self._rows(LATENCY_ROWS))

    def close_now(self) -> None:
        with self._lock:
            self._db.close()

    # the Ledger protocol: each call runs the work above in a thread (the connection's lock serialises)
    async def record_many(self, observations: Sequence[Observation]) -> None:
        await asyncio.to_thread(self.record_many_now, observations)

    async def tallies(self) -> list[Tally]:
        return await asyncio.to_thread(self.tallies_now)

    async def disagreements(self, limit: int = 50) -> list[Disagreement]:
        return await asyncio.to_thread(self.disagreements_now, limit)

    async def score_pairs(self, tenant: str | None = None, op: str | None = None) -> list[StoredPair]:
        return await asyncio.to_thread(self.score_pairs_now, tenant, op)

    async def latencies(self) -> list[LatencyHistogram]:
        return await asyncio.to_thread(self.latencies_now)

    async def close(self) -> None:
        await asyncio.to_thread(self.close_now)
