"""The write journal's SQL on SQLite: functions of a connection, each run inside one write transaction.

SQLite has one writer at a time (BEGIN IMMEDIATE, across processes too), so taking due entries is a
select and an update in one transaction: no two reconcilers can lease the same entry.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from proxy.store.journal import (
    FINAL_STATES,
    JournalEntry,
    JournalIntent,
    JournalKind,
    JournalState,
    KnownSource,
    Lease,
    Opened,
)
from proxy.store.rows import JOURNAL_COLUMNS, check_blobs, journal_entry, to_json

OPEN = "('pending', 'unknown')"  # OPEN_STATES as SQL

SELECT = f"SELECT {JOURNAL_COLUMNS} FROM journal "  # noqa: S608 (a constant column list)


def _one(db: sqlite3.Connection, where: str, params: Sequence[Any]) -> JournalEntry | None:
    row = db.execute(SELECT + where, params).fetchone()
    return journal_entry(row) if row else None


def open_entry(db: sqlite3.Connection, intent: JournalIntent, now: float, lease: Lease | None) -> Opened:
    if intent.dedupe_key is not None:
        existing = _one(db, "WHERE dedupe_key = ?", (intent.dedupe_key,))
        if existing is not None:
            return Opened(existing, created=False)
    check_blobs(intent.blobs)
    digests = sorted(intent.blobs)
    cursor = db.execute(
        "INSERT INTO journal (kind, namespace, op, person_id, face_ids, payload, target, state, attempts, "
        "next_attempt_at, lease_until, lease_owner, last_error, dedupe_key, blob_digests, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, NULL, ?, ?, ?, ?)",
        (
            intent.kind,
            intent.namespace,
            intent.op,
            intent.person_id,
            to_json(list(intent.face_ids)),
            to_json(dict(intent.payload)),
            intent.target,
            now,
            now + lease.seconds if lease else 0.0,
            lease.owner if lease else None,
            intent.dedupe_key,
            to_json(digests),
            now,
            now,
        ),
    )
    entry_id = cursor.lastrowid
    for digest in digests:
        db.execute("INSERT OR IGNORE INTO journal_blob (digest, data) VALUES (?, ?)", (digest, intent.blobs[digest]))
        db.execute("INSERT INTO journal_blob_ref (entry_id, digest) VALUES (?, ?)", (entry_id, digest))
    entry = _one(db, "WHERE entry_id = ?", (entry_id,))
    assert entry is not None
    return Opened(entry, created=True)


def complete(
    db: sqlite3.Connection,
    entry_id: int,
    state: JournalState,
    now: float,
    error: str | None,
    retry_at: float | None,
    payload: Mapping[str, Any] | None,
    owner: str | None,
) -> bool:
    cursor = db.execute(
        "UPDATE journal SET state = ?, attempts = attempts + 1, last_error = ?, "
        "next_attempt_at = COALESCE(?, next_attempt_at), payload = COALESCE(?, payload), "
        "lease_until = 0, lease_owner = NULL, updated_at = ? "
        "WHERE entry_id = ? AND (? IS NULL OR lease_owner = ?)",
        (state, error, retry_at, None if payload is None else to_json(dict(payload)), now, entry_id, owner, owner),
    )
    if cursor.rowcount != 1:
        return False
    if state in FINAL_STATES:
        release_blobs(db, entry_id)
    return True


def release_blobs(db: sqlite3.Connection, entry_id: int) -> None:
    """Drop the entry's blob references, and each blob no other entry names."""
    digests = [row[0] for row in db.execute("SELECT digest FROM journal_blob_ref WHERE entry_id = ?", (entry_id,))]
    db.execute("DELETE FROM journal_blob_ref WHERE entry_id = ?", (entry_id,))
    for digest in digests:
        db.execute(
            "DELETE FROM journal_blob WHERE digest = ? AND NOT EXISTS "
            "(SELECT 1 FROM journal_blob_ref WHERE digest = ?)",
            (digest, digest),
        )


def due(db: sqlite3.Connection, kind: JournalKind, now: float, limit: int, lease: Lease) -> list[JournalEntry]:
    ids = [
        row[0]
        for row in db.execute(
            "SELECT entry_id FROM journal WHERE kind = ? AND state IN ('pending', 'unknown') AND next_attempt_at <= ? "
            "AND lease_until <= ? ORDER BY next_attempt_at, entry_id LIMIT ?",
            (kind, now, now, limit),
        )
    ]
    entries = []
    for entry_id in ids:
        db.execute(
            "UPDATE journal SET lease_until = ?, lease_owner = ? WHERE entry_id = ?",
            (now + lease.seconds, lease.owner, entry_id),
        )
        entry = _one(db, "WHERE entry_id = ?", (entry_id,))
        assert entry is not None
        entries.append(entry)
    return entries


def claim(db: sqlite3.Connection, entry_id: int, now: float, lease: Lease) -> JournalEntry | None:
    cursor = db.execute(
        "UPDATE journal SET lease_until = ?, lease_owner = ? WHERE entry_id = ? AND state IN ('pending', 'unknown') "
        "AND (lease_until <= ? OR lease_owner = ?)",
        (now + lease.seconds, lease.owner, entry_id, now, lease.owner),
    )
    if cursor.rowcount != 1:
        return None
    return _one(db, "WHERE entry_id = ?", (entry_id,))


def prune(db: sqlite3.Connection, kind: JournalKind, before: float) -> int:
    ids = [
        row[0]
        for row in db.execute(
            "SELECT entry_id FROM journal WHERE kind = ? AND state IN ('applied', 'failed') AND updated_at < ?",
            (kind, before),
        )
    ]
    for entry_id in ids:
        release_blobs(db, entry_id)
        db.execute("DELETE FROM journal WHERE entry_id = ?", (entry_id,))
    return len(ids)


def mark_known(db: sqlite3.Connection, namespace: str, person_id: str, source: KnownSource, now: float) -> None:
    db.execute(
        "INSERT INTO v3_person (namespace, person_id, source, confirmed_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (namespace, person_id) DO UPDATE SET source = excluded.source, "
        "confirmed_at = excluded.confirmed_at",
        (namespace, person_id, source, now),
    )


STATS_COUNTS = "SELECT state, COUNT(*) FROM journal WHERE kind = ? GROUP BY state"
STATS_OLDEST = "SELECT MIN(created_at) FROM journal WHERE kind = ? AND state IN ('pending', 'unknown')"
FOR_SUBJECT = SELECT + "WHERE namespace = ? AND person_id = ? "
