"""FaceStore on PostgreSQL (asyncpg): a connection pool, the shared versioned schema migrated on open, transactions.

Text: PostgreSQL's text cannot hold NUL, which SQLite (and v1) ids may contain. Every text value is
written through `_db_text` (unchanged unless it contains NUL or \\x01; then NUL -> \\x01"0" and
\\x01 -> \\x01"1") and read back through `_py_text`, an injective round trip, so both backends keep
exactly the same strings. Connection failures (server down or restarting) raise StoreUnavailable.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from proxy.store.base import DEFAULT_POOL, FaceRecord, PersonRecord, PoolOptions, StoreError, StoreUnavailable
from proxy.store.journal import (
    FINAL_STATES,
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
from proxy.store.rows import FACE_COLUMNS, JOURNAL_COLUMNS, check_blobs, face_record, face_values, to_json
from proxy.store.rows import journal_entry as _journal_entry
from proxy.store.schema import MIGRATIONS, SCHEMA_VERSION, newer_schema_message

_ESC = "\x01"
_PING_TIMEOUT_S = 2.0  # readiness answers within this even while the server is unreachable
_MIGRATION_LOCK = 0x7631_7072_6F78  # pg_advisory_xact_lock key: one migrator at a time per database

_RETURNING_JOURNAL = f" RETURNING {JOURNAL_COLUMNS}"
_SELECT_JOURNAL = f"SELECT {JOURNAL_COLUMNS} FROM journal "  # noqa: S608 (a constant column list)
_SELECT_FACES = f"SELECT {FACE_COLUMNS} FROM face WHERE namespace = $1 AND face_id = ANY($2::text[])"  # noqa: S608
_SELECT_PERSON_FACES = f"SELECT {FACE_COLUMNS} FROM face WHERE namespace = $1 AND person_id = $2"  # noqa: S608
_INSERT_FACE = (
    f"INSERT INTO face ({FACE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) "  # noqa: S608
    "ON CONFLICT (namespace, face_id) DO UPDATE SET person_id = excluded.person_id, tag = excluded.tag, "
    "x = excluded.x, y = excluded.y, width = excluded.width, height = excluded.height, gender = excluded.gender, "
    "age = excluded.age, expression = excluded.expression, glass = excluded.glass, pitch = excluded.pitch, "
    "yaw = excluded.yaw, roll = excluded.roll"
)
# asyncpg/OS errors that mean "the server cannot be reached now", not "this statement is wrong"
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)
_CANNOT_OPEN: tuple[type[BaseException], ...] = (*_UNAVAILABLE, asyncpg.PostgresError)
Conn = asyncpg.Connection | PoolConnectionProxy


def _db_text(value: str) -> str:
    if "\x00" not in value and _ESC not in value:
        return value
    return value.replace(_ESC, _ESC + "1").replace("\x00", _ESC + "0")


def _py_text(value: str) -> str:
    if _ESC not in value:
        return value
    out: list[str] = []
    parts = value.split(_ESC)
    out.append(parts[0])
    for part in parts[1:]:
        out.append(("\x00" if part[:1] == "0" else _ESC) + part[1:])
    return "".join(out)


def _db_opt(value: str | None) -> str | None:
    return None if value is None else _db_text(value)


def _py_opt(value: str | None) -> str | None:
    return None if value is None else _py_text(value)


def _face_row(r: FaceRecord) -> tuple[Any, ...]:
    v = face_values(r)
    return (_db_text(v[0]), _db_text(v[1]), _db_text(v[2]), _db_opt(v[3]), *v[4:])


def _face(record: asyncpg.Record) -> FaceRecord:
    row = list(record.values())
    return face_record((_py_text(row[0]), _py_text(row[1]), _py_text(row[2]), _py_opt(row[3]), *row[4:]))


_TEXT_COLUMNS = (2, 3, 4, 12, 13, 14)  # namespace, op, person_id, lease_owner, last_error, dedupe_key


def _entry(record: asyncpg.Record) -> JournalEntry:
    values = list(record.values())
    for i in _TEXT_COLUMNS:
        values[i] = _py_opt(values[i])
    return _journal_entry(values)


class PostgresFaceStore:
    """A FaceStore over an asyncpg pool; every multi-statement write is one transaction."""

    def __init__(self, pool: asyncpg.Pool, where: str) -> None:
        self._pool = pool
        self._where = where
        self._closed = False

    @asynccontextmanager
    async def _conn(self, acquire_within_s: float | None = None) -> AsyncIterator[Conn]:
        if self._closed:
            raise StoreError(f"store {self._where} is closed")
        try:
            async with self._pool.acquire(timeout=acquire_within_s) as conn:
                yield conn
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"store {self._where} unavailable: {type(exc).__name__}: {exc}") from exc

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[Conn]:
        async with self._conn() as conn, conn.transaction():
            yield conn

    async def put_person(self, record: PersonRecord) -> None:
        async with self._conn() as conn:
            await conn.execute(
                "INSERT INTO person (namespace, person_id, name, tag) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (namespace, person_id) DO UPDATE SET name = excluded.name, tag = excluded.tag",
                _db_text(record.namespace), _db_text(record.person_id), _db_opt(record.name), _db_opt(record.tag),
            )  # fmt: skip

    async def get_person(self, namespace: str, person_id: str) -> PersonRecord | None:
        async with self._conn() as conn:
            row = await conn.fetchrow(
                "SELECT name, tag FROM person WHERE namespace = $1 AND person_id = $2",
                _db_text(namespace),
                _db_text(person_id),
            )
        return None if row is None else PersonRecord(namespace, person_id, _py_opt(row[0]), _py_opt(row[1]))

    async def update_person(
        self, namespace: str, person_id: str, *, name: str | None = None, tag: str | None = None
    ) -> None:
        async with self._conn() as conn:
            await conn.execute(
                "INSERT INTO person (namespace, person_id, name, tag) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (namespace, person_id) DO UPDATE SET "
                "name = COALESCE(excluded.name, person.name), tag = COALESCE(excluded.tag, person.tag)",
                _db_text(namespace), _db_text(person_id), _db_opt(name), _db_opt(tag),
            )  # fmt: skip

    async def delete_person(self, namespace: str, person_id: str) -> None:
        key = (_db_text(namespace), _db_text(person_id))
        async with self._tx() as conn:
            await conn.execute("DELETE FROM face WHERE namespace = $1 AND person_id = $2", *key)
            await conn.execute("DELETE FROM person WHERE namespace = $1 AND person_id = $2", *key)

    async def put_faces(self, records: Sequence[FaceRecord]) -> None:
        if not records:
            return
        rows = [_face_row(r) for r in records]
        async with self._tx() as conn:
            await conn.executemany(_INSERT_FACE, rows)

    async def get_face(self, namespace: str, face_id: str) -> FaceRecord | None:
        return (await self.get_faces(namespace, [face_id])).get(face_id)

    async def get_faces(self, namespace: str, face_ids: Sequence[str]) -> Mapping[str, FaceRecord]:
        if not face_ids:
            return {}
        async with self._conn() as conn:
            rows = await conn.fetch(_SELECT_FACES, _db_text(namespace), [_db_text(f) for f in dict.fromkeys(face_ids)])
        records = (_face(row) for row in rows)
        return {r.face_id: r for r in records}

    async def get_person_faces(self, namespace: str, person_id: str) -> Sequence[FaceRecord]:
        async with self._conn() as conn:
            rows = await conn.fetch(_SELECT_PERSON_FACES, _db_text(namespace), _db_text(person_id))
        return sorted((_face(row) for row in rows), key=lambda r: r.face_id)

    async def delete_faces(self, namespace: str, face_ids: Sequence[str]) -> None:
        if not face_ids:
            return
        async with self._conn() as conn:
            await conn.execute(
                "DELETE FROM face WHERE namespace = $1 AND face_id = ANY($2::text[])",
                _db_text(namespace),
                [_db_text(f) for f in face_ids],
            )

    # --- the write journal (proxy.store.journal) ---

    async def journal_open(self, intent: JournalIntent, *, now: float, lease: Lease | None = None) -> Opened:
        check_blobs(intent.blobs)
        digests = sorted(intent.blobs)
        async with self._tx() as conn:
            row = await conn.fetchrow(
                "INSERT INTO journal (kind, namespace, op, person_id, face_ids, payload, target, state, attempts, "  # noqa: S608
                "next_attempt_at, lease_until, lease_owner, last_error, dedupe_key, blob_digests, created_at, "
                "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, $9, $10, NULL, $11, $12, $8, $8) "
                "ON CONFLICT (dedupe_key) DO NOTHING" + _RETURNING_JOURNAL,
                intent.kind, _db_text(intent.namespace), _db_text(intent.op), _db_opt(intent.person_id),
                to_json(list(intent.face_ids)), to_json(dict(intent.payload)), intent.target, now,
                now + lease.seconds if lease else 0.0, _db_opt(lease.owner if lease else None),
                _db_opt(intent.dedupe_key), to_json(digests),
            )  # fmt: skip
            if row is None:  # the dedupe key exists
                existing = await conn.fetchrow(_SELECT_JOURNAL + "WHERE dedupe_key = $1", _db_opt(intent.dedupe_key))
                if existing is None:
                    raise StoreError(f"journal entry with dedupe key {intent.dedupe_key!r} vanished while opening")
                return Opened(_entry(existing), created=False)
            entry = _entry(row)
            for digest in digests:
                # DO UPDATE (not NOTHING) locks the blob row, so a concurrent release cannot delete it under us
                await conn.execute(
                    "INSERT INTO journal_blob (digest, data) VALUES ($1, $2) "
                    "ON CONFLICT (digest) DO UPDATE SET digest = excluded.digest",
                    digest,
                    intent.blobs[digest],
                )
                await conn.execute(
                    "INSERT INTO journal_blob_ref (entry_id, digest) VALUES ($1, $2)", entry.entry_id, digest
                )
        return Opened(entry, created=True)

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
        async with self._tx() as conn:
            status = await conn.execute(
                "UPDATE journal SET state = $1, attempts = attempts + 1, last_error = $2, "
                "next_attempt_at = COALESCE($3, next_attempt_at), payload = COALESCE($4, payload), "
                "lease_until = 0, lease_owner = NULL, updated_at = $5 "
                "WHERE entry_id = $6 AND ($7::text IS NULL OR lease_owner = $7::text)",
                state, _db_opt(error), retry_at, None if payload is None else to_json(dict(payload)), now, entry_id,
                _db_opt(owner),
            )  # fmt: skip
            if status != "UPDATE 1":
                return False
            if state in FINAL_STATES:
                await _release_blobs(conn, entry_id)
        return True

    async def journal_due(self, kind: JournalKind, *, now: float, limit: int, lease: Lease) -> Sequence[JournalEntry]:
        async with self._conn() as conn:
            rows = await conn.fetch(
                "UPDATE journal SET lease_until = $1, lease_owner = $2 WHERE entry_id IN ("  # noqa: S608
                "SELECT entry_id FROM journal WHERE kind = $3 AND state IN ('pending', 'unknown') "
                "AND next_attempt_at <= $4 AND lease_until <= $4 ORDER BY next_attempt_at, entry_id LIMIT $5 "
                "FOR UPDATE SKIP LOCKED)" + _RETURNING_JOURNAL,
                now + lease.seconds, _db_text(lease.owner), kind, now, limit,
            )  # fmt: skip
        return sorted((_entry(r) for r in rows), key=lambda e: (e.next_attempt_at, e.entry_id))

    async def journal_claim(self, entry_id: int, *, now: float, lease: Lease) -> JournalEntry | None:
        async with self._conn() as conn:
            row = await conn.fetchrow(
                "UPDATE journal SET lease_until = $1, lease_owner = $2 WHERE entry_id = $3 "  # noqa: S608
                "AND state IN ('pending', 'unknown') AND (lease_until <= $4 OR lease_owner = $2)" + _RETURNING_JOURNAL,
                now + lease.seconds, _db_text(lease.owner), entry_id, now,
            )  # fmt: skip
        return None if row is None else _entry(row)

    async def journal_get(self, entry_id: int) -> JournalEntry | None:
        async with self._conn() as conn:
            row = await conn.fetchrow(_SELECT_JOURNAL + "WHERE entry_id = $1", entry_id)
        return None if row is None else _entry(row)

    async def journal_find(self, dedupe_key: str) -> JournalEntry | None:
        async with self._conn() as conn:
            row = await conn.fetchrow(_SELECT_JOURNAL + "WHERE dedupe_key = $1", _db_text(dedupe_key))
        return None if row is None else _entry(row)

    async def journal_for_subject(
        self, namespace: str, person_id: str, *, open_only: bool = True, kind: JournalKind | None = None
    ) -> Sequence[JournalEntry]:
        where = "AND state IN ('pending', 'unknown') " if open_only else ""
        where += "AND kind = $3 " if kind is not None else ""
        params = [_db_text(namespace), _db_text(person_id)] + ([kind] if kind is not None else [])
        async with self._conn() as conn:
            rows = await conn.fetch(
                _SELECT_JOURNAL + "WHERE namespace = $1 AND person_id = $2 " + where + "ORDER BY entry_id", *params
            )
        return [_entry(r) for r in rows]

    async def journal_stats(self, kind: JournalKind, *, now: float) -> JournalStats:
        counts = dict.fromkeys(STATES, 0)
        async with self._conn() as conn:
            for row in await conn.fetch("SELECT state, COUNT(*) FROM journal WHERE kind = $1 GROUP BY state", kind):
                counts[row[0]] = int(row[1])
            oldest = await conn.fetchval(
                "SELECT MIN(created_at) FROM journal WHERE kind = $1 AND state IN ('pending', 'unknown')", kind
            )
        return JournalStats(kind, counts, None if oldest is None else max(0.0, now - float(oldest)))

    async def journal_prune(self, kind: JournalKind, *, before: float) -> int:
        async with self._tx() as conn:
            ids = [
                r[0]
                for r in await conn.fetch(
                    "SELECT entry_id FROM journal WHERE kind = $1 AND state IN ('applied', 'failed') "
                    "AND updated_at < $2 FOR UPDATE SKIP LOCKED",
                    kind,
                    before,
                )
            ]
            for entry_id in ids:
                await _release_blobs(conn, entry_id)
            await conn.execute("DELETE FROM journal WHERE entry_id = ANY($1::bigint[])", ids)
        return len(ids)

    async def journal_blob(self, digest: str) -> bytes | None:
        async with self._conn() as conn:
            data = await conn.fetchval("SELECT data FROM journal_blob WHERE digest = $1", digest)
        return None if data is None else bytes(data)

    async def mark_known_in_v3(self, namespace: str, person_id: str, source: KnownSource, *, now: float) -> None:
        async with self._conn() as conn:
            await conn.execute(
                "INSERT INTO v3_person (namespace, person_id, source, confirmed_at) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (namespace, person_id) DO UPDATE SET source = excluded.source, "
                "confirmed_at = excluded.confirmed_at",
                _db_text(namespace), _db_text(person_id), source, now,
            )  # fmt: skip

    async def forget_known_in_v3(self, namespace: str, person_id: str) -> None:
        async with self._conn() as conn:
            await conn.execute(
                "DELETE FROM v3_person WHERE namespace = $1 AND person_id = $2",
                _db_text(namespace),
                _db_text(person_id),
            )

    async def is_known_in_v3(self, namespace: str, person_id: str) -> bool:
        async with self._conn() as conn:
            found = await conn.fetchval(
                "SELECT 1 FROM v3_person WHERE namespace = $1 AND person_id = $2",
                _db_text(namespace),
                _db_text(person_id),
            )
        return found is not None

    async def ping(self) -> bool:
        try:
            async with self._conn(acquire_within_s=_PING_TIMEOUT_S) as conn:
                return bool(await conn.fetchval("SELECT 1", timeout=_PING_TIMEOUT_S) == 1)
        except Exception:
            return False

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await asyncio.wait_for(self._pool.close(), timeout=10)
        except _UNAVAILABLE:
            self._pool.terminate()


async def _release_blobs(conn: Conn, entry_id: int) -> None:
    """Drop the entry's blob references, and each blob no other entry names (row-locked against a new reference)."""
    digests = [
        r[0] for r in await conn.fetch("DELETE FROM journal_blob_ref WHERE entry_id = $1 RETURNING digest", entry_id)
    ]
    for digest in digests:
        if await conn.fetchval("SELECT 1 FROM journal_blob WHERE digest = $1 FOR UPDATE", digest) is None:
            continue
        # a new statement: sees references committed while we waited for the row lock
        if await conn.fetchval("SELECT 1 FROM journal_blob_ref WHERE digest = $1 LIMIT 1", digest) is None:
            await conn.execute("DELETE FROM journal_blob WHERE digest = $1", digest)


async def migrate(conn: Conn, where: str) -> int:
    """Apply the missing schema steps, each in its own transaction under an advisory lock; the version now."""
    while True:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await conn.execute("CREATE TABLE IF NOT EXISTS v1proxy_schema (version INTEGER NOT NULL)")
            version = await conn.fetchval("SELECT version FROM v1proxy_schema")
            if version is None:
                await conn.execute("INSERT INTO v1proxy_schema (version) VALUES (0)")
                version = 0
            if version > SCHEMA_VERSION:
                raise StoreError(newer_schema_message(where, version))
            if version == SCHEMA_VERSION:
                return int(version)
            for statement in MIGRATIONS[version].postgresql:
                await conn.execute(statement)
            await conn.execute("UPDATE v1proxy_schema SET version = $1", version + 1)


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """The pool's reset on release: nothing to send. asyncpg's default (advisory unlock, CLOSE ALL,
    UNLISTEN, RESET ALL) is one more round trip per query; the store leaves no session state behind
    (transaction-scoped locks only, no LISTEN, cursors or SET), and an open transaction is still
    rolled back by the pool itself."""


def describe(url: str) -> str:
    """The URL without any password, for messages and logs."""
    scheme, _, rest = url.partition("://")
    userinfo, at, hostpart = rest.rpartition("@")
    if not at:
        return url
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}@{hostpart}"


async def open_postgres(
    url: str, *, password: str | None = None, pool: PoolOptions = DEFAULT_POOL
) -> PostgresFaceStore:
    """Connect a pool to `url` (password given apart, never in the URL we log) and migrate the schema."""
    where = repr(describe(url))
    try:
        created = await asyncpg.create_pool(
            dsn=url,
            password=password,
            min_size=pool.minimum,
            max_size=pool.maximum,
            timeout=pool.connect_timeout_s,
            command_timeout=pool.command_timeout_s,
            reset=_keep_session,
        )
    except _CANNOT_OPEN as exc:
        raise StoreError(f"cannot open store {where}: {type(exc).__name__}: {exc}") from exc
    try:
        async with created.acquire() as conn:
            await migrate(conn, where)
    except BaseException:
        created.terminate()
        raise
    return PostgresFaceStore(created, where)
