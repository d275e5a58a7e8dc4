"""FaceStore on SQLite (stdlib sqlite3): WAL, versioned schema migrated on open; writes in a thread, reads inline.

Each write transaction runs whole, as one function, on the store's own thread (it may wait for
another process's lock or for a checkpoint): one hand-off per transaction, not one per statement.
Reads are primary-key lookups of ~10 µs: they run on a second, read-only connection in the event
loop's thread, which saves a hand-off (~80 µs of CPU). In WAL mode that reader never waits for a
writer and sees every commit. An in-memory store (tests) has one connection, reads go to its thread.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from proxy.store import sqlite_journal as journal_sql
from proxy.store.base import FaceRecord, PersonRecord, StoreError
from proxy.store.journal import (
    STATES,
    JournalEntry,
    JournalIntent,
    JournalKind,
    JournalState,
    JournalStats,
    KnownSource,
    Lease,
    Opened,
)
from proxy.store.rows import FACE_COLUMN_COUNT, FACE_COLUMNS, face_record, face_values, journal_entry
from proxy.store.schema import MIGRATIONS, SCHEMA_VERSION, newer_schema_message

MEMORY = ":memory:"
T = TypeVar("T")
Work = Callable[[sqlite3.Connection], T]


_SELECT_FACES = f"SELECT {FACE_COLUMNS} FROM face WHERE namespace = ? AND face_id "  # noqa: S608 (constants)
_SELECT_PERSON_FACES = f"SELECT {FACE_COLUMNS} FROM face WHERE namespace = ? AND person_id = ? ORDER BY face_id"  # noqa: S608
_DELETE_FACES = "DELETE FROM face WHERE namespace = ? AND face_id "
_INSERT_FACE = f"INSERT OR REPLACE INTO face ({FACE_COLUMNS}) VALUES ({', '.join('?' * FACE_COLUMN_COUNT)})"  # noqa: S608
_MAX_BOUND_IDS = 500  # well under SQLite's host-parameter limit, whatever the build


def _face_row(r: FaceRecord) -> tuple[Any, ...]:
    return face_values(r)  # sqlite3 stores the glass bool as 0/1


def _in_placeholders(count: int) -> str:
    """ "IN (?, ?, …)": only placeholders are ever spliced into SQL, every value is bound."""
    return "IN (" + ", ".join("?" * count) + ")"


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _MAX_BOUND_IDS):
        yield items[start : start + _MAX_BOUND_IDS]


class SqliteFaceStore:
    """A FaceStore over a writer connection used only from its own thread, and an inline reader."""

    def __init__(self, writer: sqlite3.Connection, path: str, reader: sqlite3.Connection | None = None) -> None:
        self._writer = writer
        self._reader = reader
        self._path = path
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="v1proxy-store")
        self._closed = False

    @property
    def path(self) -> str:
        return self._path

    async def _on_thread(self, work: Work[T]) -> T:
        if self._closed:
            raise StoreError(f"store {self._path!r} is closed")
        return await asyncio.get_running_loop().run_in_executor(self._thread, work, self._writer)

    async def _write(self, work: Work[object]) -> None:
        """Run `work` as one transaction on the store's thread: all of it is committed, or none."""

        def run(db: sqlite3.Connection) -> None:
            _transaction(db, work)  # whatever `work` returns (a cursor, say) is dropped here, on the store's thread

        await self._on_thread(run)

    async def _transact(self, work: Work[T]) -> T:
        """Run `work` as one transaction on the store's thread and return its result."""
        return await self._on_thread(lambda db: _transaction(db, work))

    async def _fetchall(self, sql: str, params: Sequence[Any]) -> list[Any]:
        if self._reader is not None:
            return self._reader.execute(sql, params).fetchall()
        return await self._on_thread(lambda db: db.execute(sql, params).fetchall())

    async def put_person(self, record: PersonRecord) -> None:
        await self._write(
            lambda db: db.execute(
                "INSERT INTO person (namespace, person_id, name, tag) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (namespace, person_id) DO UPDATE SET name = excluded.name, tag = excluded.tag",
                (record.namespace, record.person_id, record.name, record.tag),
            )
        )

    async def get_person(self, namespace: str, person_id: str) -> PersonRecord | None:
        rows = await self._fetchall(
            "SELECT namespace, person_id, name, tag FROM person WHERE namespace = ? AND person_id = ?",
            (namespace, person_id),
        )
        return PersonRecord(*rows[0]) if rows else None

    async def update_person(
        self, namespace: str, person_id: str, *, name: str | None = None, tag: str | None = None
    ) -> None:
        # COALESCE keeps the stored value for each field not given (None).
        await self._write(
            lambda db: db.execute(
                "INSERT INTO person (namespace, person_id, name, tag) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (namespace, person_id) DO UPDATE SET "
                "name = COALESCE(excluded.name, person.name), tag = COALESCE(excluded.tag, person.tag)",
                (namespace, person_id, name, tag),
            )
        )

    async def delete_person(self, namespace: str, person_id: str) -> None:
        key = (namespace, person_id)

        def delete(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM face WHERE namespace = ? AND person_id = ?", key)
            db.execute("DELETE FROM person WHERE namespace = ? AND person_id = ?", key)

        await self._write(delete)

    async def put_faces(self, records: Sequence[FaceRecord]) -> None:
        if not records:
            return
        rows = [_face_row(r) for r in records]
        await self._write(lambda db: db.executemany(_INSERT_FACE, rows))

    async def get_face(self, namespace: str, face_id: str) -> FaceRecord | None:
        rows = await self._fetchall(_SELECT_FACES + "= ?", (namespace, face_id))
        return face_record(rows[0]) if rows else None

    async def get_faces(self, namespace: str, face_ids: Sequence[str]) -> Mapping[str, FaceRecord]:
        found: dict[str, FaceRecord] = {}
        for chunk in _chunks(list(dict.fromkeys(face_ids))):
            rows = await self._fetchall(
                _SELECT_FACES + _in_placeholders(len(chunk)),
                (namespace, *chunk),
            )
            for row in rows:
                record = face_record(row)
                found[record.face_id] = record
        return found

    async def get_person_faces(self, namespace: str, person_id: str) -> Sequence[FaceRecord]:
        rows = await self._fetchall(_SELECT_PERSON_FACES, (namespace, person_id))
        return [face_record(row) for row in rows]

    async def delete_faces(self, namespace: str, face_ids: Sequence[str]) -> None:
        if not face_ids:
            return
        chunks = list(_chunks(list(face_ids)))

        def delete(db: sqlite3.Connection) -> None:
            for chunk in chunks:
                db.execute(_DELETE_FACES + _in_placeholders(len(chunk)), (namespace, *chunk))

        await self._write(delete)

    # --- the write journal (proxy.store.journal) ---

    async def journal_open(self, intent: JournalIntent, *, now: float, lease: Lease | None = None) -> Opened:
        return await self._transact(lambda db: journal_sql.open_entry(db, intent, now, lease))

    async def journal_complete(
        self,
        entry_id: int,
        state: JournalState,
        *,
        now: float,
        error: str | None = None,
        retry_at: float | None = None,
        payload: Mapping[str, Any] | None = None,
        owner: str | None = None,
    ) -> bool:
        return await self._transact(
            lambda db: journal_sql.complete(db, entry_id, state, now, error, retry_at, payload, owner)
        )

    async def journal_due(self, kind: JournalKind, *, now: float, limit: int, lease: Lease) -> Sequence[JournalEntry]:
        return await self._transact(lambda db: journal_sql.due(db, kind, now, limit, lease))

    async def journal_claim(self, entry_id: int, *, now: float, lease: Lease) -> JournalEntry | None:
        return await self._transact(lambda db: journal_sql.claim(db, entry_id, now, lease))

    async def journal_get(self, entry_id: int) -> JournalEntry | None:
        rows = await self._fetchall(journal_sql.SELECT + "WHERE entry_id = ?", (entry_id,))
        return journal_entry(rows[0]) if rows else None

    async def journal_find(self, dedupe_key: str) -> JournalEntry | None:
        rows = await self._fetchall(journal_sql.SELECT + "WHERE dedupe_key = ?", (dedupe_key,))
        return journal_entry(rows[0]) if rows else None

    async def journal_for_subject(
        self, namespace: str, person_id: str, *, open_only: bool = True, kind: JournalKind | None = None
    ) -> Sequence[JournalEntry]:
        where = f"AND state IN {journal_sql.OPEN} " if open_only else ""
        where += "AND kind = ? " if kind is not None else ""
        params = (namespace, person_id) if kind is None else (namespace, person_id, kind)
        rows = await self._fetchall(journal_sql.FOR_SUBJECT + where + "ORDER BY entry_id", params)
        return [journal_entry(row) for row in rows]

    async def journal_stats(self, kind: JournalKind, *, now: float) -> JournalStats:
        counts = dict.fromkeys(STATES, 0)
        for state, count in await self._fetchall(journal_sql.STATS_COUNTS, (kind,)):
            counts[state] = int(count)
        oldest = (await self._fetchall(journal_sql.STATS_OLDEST, (kind,)))[0][0]
        return JournalStats(kind, counts, None if oldest is None else max(0.0, now - float(oldest)))

    async def journal_prune(self, kind: JournalKind, *, before: float) -> int:
        return await self._transact(lambda db: journal_sql.prune(db, kind, before))

    async def journal_blob(self, digest: str) -> bytes | None:
        rows = await self._fetchall("SELECT data FROM journal_blob WHERE digest = ?", (digest,))
        return bytes(rows[0][0]) if rows else None

    async def mark_known_in_v3(self, namespace: str, person_id: str, source: KnownSource, *, now: float) -> None:
        await self._write(lambda db: journal_sql.mark_known(db, namespace, person_id, source, now))

    async def forget_known_in_v3(self, namespace: str, person_id: str) -> None:
        await self._write(
            lambda db: db.execute("DELETE FROM v3_person WHERE namespace = ? AND person_id = ?", (namespace, person_id))
        )

    async def is_known_in_v3(self, namespace: str, person_id: str) -> bool:
        rows = await self._fetchall(
            "SELECT 1 FROM v3_person WHERE namespace = ? AND person_id = ?", (namespace, person_id)
        )
        return bool(rows)

    async def ping(self) -> bool:
        try:
            rows = await self._on_thread(lambda db: db.execute("SELECT 1").fetchall())
        except Exception:
            return False
        return rows == [(1,)]

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._reader is not None:
            self._reader.close()
        # the thread finishes what was queued (no transaction is cut short), then closes the writer
        await asyncio.get_running_loop().run_in_executor(self._thread, self._writer.close)
        self._thread.shutdown(wait=True)


def _transaction(db: sqlite3.Connection, work: Work[T]) -> T:
    db.execute("BEGIN IMMEDIATE")
    try:
        result = work(db)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return result


def _migrate(db: sqlite3.Connection, path: str) -> None:
    """Apply the missing migrations in order, each in its own transaction (safe if two processes race)."""
    while True:
        db.execute("BEGIN IMMEDIATE")
        try:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise StoreError(newer_schema_message(repr(path), version))
            if version == SCHEMA_VERSION:
                db.execute("COMMIT")
                return
            for statement in MIGRATIONS[version].sqlite:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {version + 1:d}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


def _open_writer(path: str) -> sqlite3.Connection:
    """The writer connection, WAL and migrated; made on the store's thread, which alone uses it."""
    try:
        db = sqlite3.connect(path, isolation_level=None, timeout=5.0, check_same_thread=False)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open store {path!r}: {exc}") from exc
    try:
        if path != MEMORY and _journal_mode_wal(db) != "wal":
            raise StoreError(f"store {path!r} could not switch to WAL journal mode")
        db.execute("PRAGMA synchronous = NORMAL")
        _migrate(db, path)
    except BaseException:
        db.close()
        raise
    return db


def _journal_mode_wal(db: sqlite3.Connection, *, attempts: int = 50) -> str:
    """Switch to WAL. Workers opening a new file together contend for it, and SQLite's busy handler
    does not cover a journal-mode change: retry "database is locked" for up to ~5 s."""
    for attempt in range(attempts):
        try:
            row = db.execute("PRAGMA journal_mode = WAL").fetchone()
            return str(row[0]).lower() if row else ""
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise StoreError(f"cannot switch the store to WAL: {exc}") from exc
            time.sleep(0.1)
    return ""


def _open_reader(path: str) -> sqlite3.Connection:
    try:
        reader = sqlite3.connect(
            f"{Path(path).absolute().as_uri()}?mode=ro", uri=True, isolation_level=None, timeout=0.2
        )
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open store {path!r} for reading: {exc}") from exc
    reader.execute("PRAGMA query_only = 1")
    return reader


async def open_sqlite(path: str) -> SqliteFaceStore:
    """Open (creating file and parent directory if needed) and migrate a SQLite store at `path`."""
    if path != MEMORY:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    writer = await asyncio.to_thread(_open_writer, path)
    try:
        reader = None if path == MEMORY else _open_reader(path)
    except BaseException:
        writer.close()
        raise
    return SqliteFaceStore(writer, path, reader)
