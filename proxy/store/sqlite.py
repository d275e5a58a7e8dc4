"""FaceStore on SQLite: WAL, versioned schema migrated on open; writes on aiosqlite, reads inline.

Writes go through one aiosqlite connection (its own thread: a transaction may wait for a lock or
an fsync). Reads are point lookups by primary key, ~10 µs: they run on a second, read-only
connection in the event loop's thread, which saves the two thread hand-offs (~80 µs of CPU) an
aiosqlite call costs. In WAL mode a reader never waits for the writer and sees every commit.
An in-memory store (tests) has no second connection: its reads go through aiosqlite.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from proxy.store.base import FaceRecord, PersonRecord, StoreError

MEMORY = ":memory:"

# Ordered schema migrations: MIGRATIONS[n] takes a database from user_version n to n + 1.
# Append only; never edit a released step.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
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
)
SCHEMA_VERSION = len(MIGRATIONS)

_SELECT_FACES = (
    "SELECT namespace, face_id, person_id, tag, x, y, width, height, gender, age, expression, glass, "
    "pitch, yaw, roll FROM face WHERE namespace = ? AND face_id "
)
_DELETE_FACES = "DELETE FROM face WHERE namespace = ? AND face_id "
_INSERT_FACE = (
    "INSERT OR REPLACE INTO face (namespace, face_id, person_id, tag, x, y, width, height, gender, age, "
    "expression, glass, pitch, yaw, roll) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_MAX_BOUND_IDS = 500  # well under SQLite's host-parameter limit, whatever the build


def _face_row(r: FaceRecord) -> tuple[Any, ...]:
    return (
        r.namespace, r.face_id, r.person_id, r.tag, r.x, r.y, r.width, r.height,
        r.gender, r.age, r.expression, int(r.glass), r.pitch, r.yaw, r.roll,
    )  # fmt: skip


def _face_record(row: Sequence[Any]) -> FaceRecord:
    return FaceRecord(
        namespace=row[0], face_id=row[1], person_id=row[2], tag=row[3], x=row[4], y=row[5],
        width=float(row[6]), height=float(row[7]), gender=row[8], age=row[9], expression=row[10],
        glass=bool(row[11]), pitch=row[12], yaw=row[13], roll=row[14],
    )  # fmt: skip


def _in_placeholders(count: int) -> str:
    """ "IN (?, ?, …)": only placeholders are ever spliced into SQL, every value is bound."""
    return "IN (" + ", ".join("?" * count) + ")"


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _MAX_BOUND_IDS):
        yield items[start : start + _MAX_BOUND_IDS]


class SqliteFaceStore:
    """A FaceStore over one aiosqlite connection; an asyncio lock keeps each transaction whole."""

    def __init__(self, db: aiosqlite.Connection, path: str, reader: sqlite3.Connection | None = None) -> None:
        self._db = db
        self._reader = reader
        self._path = path
        self._lock = asyncio.Lock()
        self._closed = False

    @property
    def path(self) -> str:
        return self._path

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            await self._db.execute("COMMIT")

    async def _fetchall(self, sql: str, params: Sequence[Any]) -> list[Any]:
        if self._reader is not None:
            return self._reader.execute(sql, params).fetchall()
        async with self._lock:  # one trip to the database thread: execute and fetch together
            return list(await self._db.execute_fetchall(sql, params))

    async def put_person(self, record: PersonRecord) -> None:
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO person (namespace, person_id, name, tag) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (namespace, person_id) DO UPDATE SET name = excluded.name, tag = excluded.tag",
                (record.namespace, record.person_id, record.name, record.tag),
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
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO person (namespace, person_id, name, tag) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (namespace, person_id) DO UPDATE SET "
                "name = COALESCE(excluded.name, person.name), tag = COALESCE(excluded.tag, person.tag)",
                (namespace, person_id, name, tag),
            )

    async def delete_person(self, namespace: str, person_id: str) -> None:
        async with self._transaction() as db:
            key = (namespace, person_id)
            await db.execute("DELETE FROM face WHERE namespace = ? AND person_id = ?", key)
            await db.execute("DELETE FROM person WHERE namespace = ? AND person_id = ?", key)

    async def put_faces(self, records: Sequence[FaceRecord]) -> None:
        if not records:
            return
        rows = [_face_row(r) for r in records]
        async with self._transaction() as db:
            await db.executemany(_INSERT_FACE, rows)

    async def get_face(self, namespace: str, face_id: str) -> FaceRecord | None:
        rows = await self._fetchall(_SELECT_FACES + "= ?", (namespace, face_id))
        return _face_record(rows[0]) if rows else None

    async def get_faces(self, namespace: str, face_ids: Sequence[str]) -> Mapping[str, FaceRecord]:
        found: dict[str, FaceRecord] = {}
        for chunk in _chunks(list(dict.fromkeys(face_ids))):
            rows = await self._fetchall(
                _SELECT_FACES + _in_placeholders(len(chunk)),
                (namespace, *chunk),
            )
            for row in rows:
                record = _face_record(row)
                found[record.face_id] = record
        return found

    async def delete_faces(self, namespace: str, face_ids: Sequence[str]) -> None:
        if not face_ids:
            return
        async with self._transaction() as db:
            for chunk in _chunks(list(face_ids)):
                await db.execute(
                    _DELETE_FACES + _in_placeholders(len(chunk)),
                    (namespace, *chunk),
                )

    async def ping(self) -> bool:
        if self._closed:
            return False
        try:
            rows = await self._fetchall("SELECT 1", ())
        except Exception:
            return False
        return rows == [(1,)]

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._reader is not None:
                self._reader.close()
            async with self._lock:
                await self._db.close()


async def _user_version(db: aiosqlite.Connection) -> int:
    async with db.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def _migrate(db: aiosqlite.Connection, path: str) -> None:
    """Apply the missing migrations in order, each in its own transaction (safe if two processes race)."""
    while True:
        await db.execute("BEGIN IMMEDIATE")
        try:
            version = await _user_version(db)
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"store {path!r} has schema version {version}, newer than this v1proxy "
                    f"(which knows up to {SCHEMA_VERSION}); upgrade v1proxy or point it at another store"
                )
            if version == SCHEMA_VERSION:
                await db.execute("COMMIT")
                return
            for statement in MIGRATIONS[version]:
                await db.execute(statement)
            await db.execute(f"PRAGMA user_version = {version + 1:d}")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        await db.execute("COMMIT")


async def open_sqlite(path: str) -> SqliteFaceStore:
    """Open (creating file and parent directory if needed) and migrate a SQLite store at `path`."""
    if path != MEMORY:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        db = await aiosqlite.connect(path, isolation_level=None)
    except Exception as exc:
        raise StoreError(f"cannot open store {path!r}: {exc}") from exc
    try:
        await db.execute("PRAGMA busy_timeout = 5000")
        if path != MEMORY:
            async with db.execute("PRAGMA journal_mode = WAL") as cursor:
                row = await cursor.fetchone()
            if row is None or str(row[0]).lower() != "wal":
                raise StoreError(f"store {path!r} could not switch to WAL journal mode")
        await db.execute("PRAGMA synchronous = NORMAL")
        await _migrate(db, path)
        reader = None if path == MEMORY else _open_reader(path)
    except BaseException:
        await db.close()
        raise
    return SqliteFaceStore(db, path, reader)


def _open_reader(path: str) -> sqlite3.Connection:
    try:
        reader = sqlite3.connect(
            f"{Path(path).absolute().as_uri()}?mode=ro", uri=True, isolation_level=None, timeout=0.2
        )
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open store {path!r} for reading: {exc}") from exc
    reader.execute("PRAGMA query_only = 1")
    return reader
