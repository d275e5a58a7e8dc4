"""The store's versioned schema: one ordered list of steps, each written for SQLite and PostgreSQL side by side.

MIGRATIONS[n] takes a store from schema version n to n + 1. Append only; never edit a released
step. To add a table (yours or the proxy's), append one `Migration` with both dialects' statements:
both backends, `v1proxy migrate-store` and the start-up migration pick it up from here.
SQLite records the version in PRAGMA user_version; PostgreSQL in the table v1proxy_schema.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: what it adds, and its statements for each backend (run in one transaction)."""

    name: str
    sqlite: tuple[str, ...]
    postgresql: tuple[str, ...]


# the shadow comparison ledger's tables on SQLite; IF NOT EXISTS: the ledger may open a file before the store
SHADOW_SQLITE: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS shadow_tally (
    tenant TEXT NOT NULL, op TEXT NOT NULL, against TEXT NOT NULL, kind TEXT NOT NULL,
    count INTEGER NOT NULL, PRIMARY KEY (tenant, op, against, kind))""",
    """CREATE TABLE IF NOT EXISTS shadow_disagreement (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, tenant TEXT NOT NULL, op TEXT NOT NULL,
    against TEXT NOT NULL, request_hash TEXT NOT NULL, control_code INTEGER NOT NULL,
    candidate_code INTEGER NOT NULL, differences TEXT NOT NULL, detail TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS shadow_score_pair (
    id INTEGER PRIMARY KEY AUTOINCREMENT, tenant TEXT NOT NULL, op TEXT NOT NULL,
    v1 REAL NOT NULL, v3 REAL NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS shadow_score_pair_by_op ON shadow_score_pair (tenant, op, id)",
    """CREATE TABLE IF NOT EXISTS shadow_latency (
    tenant TEXT NOT NULL, op TEXT NOT NULL, side TEXT NOT NULL, bucket INTEGER NOT NULL,
    count INTEGER NOT NULL, PRIMARY KEY (tenant, op, side, bucket))""",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        name="persons and faces",
        sqlite=(
            """CREATE TABLE person (
            namespace TEXT NOT NULL,
            person_id TEXT NOT NULL,
            name TEXT,
            tag TEXT,
            PRIMARY KEY (namespace, person_id)
        ) WITHOUT ROWID""",
            """CREATE TABLE face (
            namespace TEXT NOT NULL,
            face_id TEXT NOT NULL,
            person_id TEXT NOT NULL,
            tag TEXT,
            x INTEGER NOT NULL,
            y INTEGER NOT NULL,
            width REAL NOT NULL,
            height REAL NOT NULL,
            gender INTEGER NOT NULL,
            age INTEGER NOT NULL,
            expression INTEGER NOT NULL,
            glass INTEGER NOT NULL CHECK (glass IN (0, 1)),
            pitch INTEGER NOT NULL,
            yaw INTEGER NOT NULL,
            roll INTEGER NOT NULL,
            PRIMARY KEY (namespace, face_id)
        ) WITHOUT ROWID""",
            "CREATE INDEX face_by_person ON face (namespace, person_id)",
        ),
        postgresql=(
            """CREATE TABLE person (
            namespace TEXT NOT NULL,
            person_id TEXT NOT NULL,
            name TEXT,
            tag TEXT,
            PRIMARY KEY (namespace, person_id)
        )""",
            """CREATE TABLE face (
            namespace TEXT NOT NULL,
            face_id TEXT NOT NULL,
            person_id TEXT NOT NULL,
            tag TEXT,
            x INTEGER NOT NULL,
            y INTEGER NOT NULL,
            width DOUBLE PRECISION NOT NULL,
            height DOUBLE PRECISION NOT NULL,
            gender INTEGER NOT NULL,
            age INTEGER NOT NULL,
            expression INTEGER NOT NULL,
            glass BOOLEAN NOT NULL,
            pitch INTEGER NOT NULL,
            yaw INTEGER NOT NULL,
            roll INTEGER NOT NULL,
            PRIMARY KEY (namespace, face_id)
        )""",
            "CREATE INDEX face_by_person ON face (namespace, person_id)",
        ),
    ),
    Migration(
        name="write journal, its blobs, persons known in v3",
        sqlite=(
            """CREATE TABLE journal (
            entry_id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL CHECK (kind IN ('write', 'outbox', 'backfill')),
            namespace TEXT NOT NULL,
            op TEXT NOT NULL,
            person_id TEXT,
            face_ids TEXT NOT NULL,
            payload TEXT NOT NULL,
            target TEXT NOT NULL CHECK (target IN ('v3', 'v1')),
            state TEXT NOT NULL CHECK (state IN ('pending', 'applied', 'failed', 'unknown')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL,
            lease_until REAL NOT NULL DEFAULT 0,
            lease_owner TEXT,
            last_error TEXT,
            dedupe_key TEXT UNIQUE,
            blob_digests TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )""",
            "CREATE INDEX journal_due ON journal (kind, state, next_attempt_at)",
            "CREATE INDEX journal_by_person ON journal (namespace, person_id)",
            """CREATE TABLE journal_blob (
            digest TEXT PRIMARY KEY,
            data BLOB NOT NULL
        ) WITHOUT ROWID""",
            """CREATE TABLE journal_blob_ref (
            entry_id INTEGER NOT NULL,
            digest TEXT NOT NULL,
            PRIMARY KEY (entry_id, digest)
        ) WITHOUT ROWID""",
            "CREATE INDEX journal_blob_ref_by_digest ON journal_blob_ref (digest)",
            """CREATE TABLE v3_person (
            namespace TEXT NOT NULL,
            person_id TEXT NOT NULL,
            source TEXT NOT NULL CHECK (source IN ('proxy', 'backfill', 'confirmed')),
            confirmed_at REAL NOT NULL,
            PRIMARY KEY (namespace, person_id)
        ) WITHOUT ROWID""",
        ),
        postgresql=(
            """CREATE TABLE journal (
            entry_id BIGSERIAL PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('write', 'outbox', 'backfill')),
            namespace TEXT NOT NULL,
            op TEXT NOT NULL,
            person_id TEXT,
            face_ids TEXT NOT NULL,
            payload TEXT NOT NULL,
            target TEXT NOT NULL CHECK (target IN ('v3', 'v1')),
            state TEXT NOT NULL CHECK (state IN ('pending', 'applied', 'failed', 'unknown')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at DOUBLE PRECISION NOT NULL,
            lease_until DOUBLE PRECISION NOT NULL DEFAULT 0,
            lease_owner TEXT,
            last_error TEXT,
            dedupe_key TEXT UNIQUE,
            blob_digests TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL
        )""",
            "CREATE INDEX journal_due ON journal (kind, state, next_attempt_at)",
            "CREATE INDEX journal_by_person ON journal (namespace, person_id)",
            """CREATE TABLE journal_blob (
            digest TEXT PRIMARY KEY,
            data BYTEA NOT NULL
        )""",
            """CREATE TABLE journal_blob_ref (
            entry_id BIGINT NOT NULL,
            digest TEXT NOT NULL,
            PRIMARY KEY (entry_id, digest)
        )""",
            "CREATE INDEX journal_blob_ref_by_digest ON journal_blob_ref (digest)",
            """CREATE TABLE v3_person (
            namespace TEXT NOT NULL,
            person_id TEXT NOT NULL,
            source TEXT NOT NULL CHECK (source IN ('proxy', 'backfill', 'confirmed')),
            confirmed_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (namespace, person_id)
        )""",
        ),
    ),
    Migration(
        name="shadow comparisons (proxy.migration.ledger): tallies, kept disagreements, score pairs, latencies",
        sqlite=SHADOW_SQLITE,
        postgresql=(
            """CREATE TABLE shadow_tally (
            tenant TEXT NOT NULL, op TEXT NOT NULL, against TEXT NOT NULL, kind TEXT NOT NULL,
            count BIGINT NOT NULL, PRIMARY KEY (tenant, op, against, kind))""",
            """CREATE TABLE shadow_disagreement (
            id BIGSERIAL PRIMARY KEY, at DOUBLE PRECISION NOT NULL, tenant TEXT NOT NULL, op TEXT NOT NULL,
            against TEXT NOT NULL, request_hash TEXT NOT NULL, control_code INTEGER NOT NULL,
            candidate_code INTEGER NOT NULL, differences TEXT NOT NULL, detail TEXT NOT NULL)""",
            """CREATE TABLE shadow_score_pair (
            id BIGSERIAL PRIMARY KEY, tenant TEXT NOT NULL, op TEXT NOT NULL,
            v1 DOUBLE PRECISION NOT NULL, v3 DOUBLE PRECISION NOT NULL)""",
            "CREATE INDEX shadow_score_pair_by_op ON shadow_score_pair (tenant, op, id)",
            """CREATE TABLE shadow_latency (
            tenant TEXT NOT NULL, op TEXT NOT NULL, side TEXT NOT NULL, bucket INTEGER NOT NULL,
            count BIGINT NOT NULL, PRIMARY KEY (tenant, op, side, bucket))""",
        ),
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


def newer_schema_message(where: str, version: int) -> str:
    return (
        f"store {where} has schema version {version}, newer than this v1proxy "
        f"(which knows up to {SCHEMA_VERSION}); upgrade v1proxy or point it at another store"
    )
