"""The manifest's on-disk index (a temporary SQLite file): duplicates, per-person limits, persons in order.

Rows of one person need not be adjacent in the manifest; holding the manifest in memory to group
them would grow with it. Instead every valid row goes into a temporary SQLite file with a bounded
page cache, indexed by person: memory stays flat whatever the manifest's size, and a person's rows
come back together, in manifest order, from one index scan.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from proxy.backfill.manifest import GROUP_SEPARATOR, ManifestRow, RowProblem
from proxy.translate.faces import PERSON_FACE_LIMIT

INSERT_BATCH = 2000
CACHE_KIB = 1024

_SCHEMA = (
    """CREATE TABLE row (
        line INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        appid TEXT NOT NULL,
        bucket TEXT NOT NULL,
        person_id TEXT NOT NULL,
        group_ids TEXT NOT NULL,
        person_name TEXT,
        tag TEXT,
        image TEXT NOT NULL,
        face_tag TEXT
    )""",
    "CREATE TABLE wanted (key TEXT PRIMARY KEY) WITHOUT ROWID",
)
_COLUMNS = "line, appid, bucket, person_id, group_ids, person_name, tag, image, face_tag"


@dataclass(frozen=True, slots=True)
class Person:
    """One person's rows, in manifest order: the first creates the person, the rest add faces."""

    rows: tuple[ManifestRow, ...]

    @property
    def key(self) -> tuple[str, str, str]:
        return self.rows[0].person_key


@dataclass(frozen=True, slots=True)
class Counts:
    items: int
    persons: int


class ManifestIndex:
    """Valid rows by line and by person, in a temporary SQLite file removed on close."""

    def __init__(self, directory: str | None = None) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="v1proxy-backfill-", dir=directory)
        self._db = sqlite3.connect(Path(self._dir.name) / "manifest.db", isolation_level=None)
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        self._db.execute("PRAGMA temp_store = FILE")
        for statement in _SCHEMA:
            self._db.execute(statement)
        self._filtered = False

    def close(self) -> None:
        self._db.close()
        self._dir.cleanup()

    def load(self, rows: Iterable[ManifestRow]) -> Iterator[RowProblem]:
        """Insert the rows; yields a problem for each duplicate (same tenant, person and image)."""
        batch: list[ManifestRow] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= INSERT_BATCH:
                yield from self._insert(batch)
                batch = []
        yield from self._insert(batch)

    def _insert(self, batch: list[ManifestRow]) -> Iterator[RowProblem]:
        db = self._db
        db.execute("BEGIN")
        duplicates: list[ManifestRow] = []
        for r in batch:
            cur = db.execute(
                "INSERT OR IGNORE INTO row VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (r.line, r.item_key, r.appid, r.bucket, r.person_id, GROUP_SEPARATOR.join(r.group_ids),
                 r.person_name, r.tag, r.image, r.face_tag),
            )  # fmt: skip
            if not cur.rowcount:
                duplicates.append(r)
        db.execute("COMMIT")
        for r in duplicates:
            first = db.execute("SELECT line FROM row WHERE key = ?", (r.item_key,)).fetchone()[0]
            yield RowProblem(r.line, f"duplicate of line {first}: same appid, bucket, person_id and image")

    def finish(self) -> Iterator[RowProblem]:
        """After loading: persons over v3's face limit and rows that disagree with their person's first row."""
        db = self._db
        db.execute("CREATE INDEX by_person ON row (appid, bucket, person_id, line)")
        over = db.execute(
            "SELECT appid, bucket, person_id, count(*) FROM row GROUP BY appid, bucket, person_id HAVING count(*) > ?",
            (PERSON_FACE_LIMIT,),
        )
        for appid, bucket, person_id, count in over.fetchall():
            lines = [
                line
                for (line,) in db.execute(
                    "SELECT line FROM row WHERE appid = ? AND bucket = ? AND person_id = ? ORDER BY line",
                    (appid, bucket, person_id),
                )
            ]
            for line in lines[PERSON_FACE_LIMIT:]:
                yield RowProblem(
                    line,
                    f"person {person_id!r} has {count} faces in the manifest (lines {_lines(lines)}); "
                    f"v3 keeps at most {PERSON_FACE_LIMIT} per person",
                    -1309,
                )
        conflicts = db.execute(
            """SELECT r.line, f.line, r.group_ids != f.group_ids, r.person_name IS NOT f.person_name,
                      r.tag IS NOT f.tag
               FROM row r JOIN row f ON f.line = (
                   SELECT min(line) FROM row WHERE appid = r.appid AND bucket = r.bucket AND person_id = r.person_id)
               WHERE r.line != f.line AND (r.group_ids != f.group_ids OR r.person_name IS NOT f.person_name
                     OR r.tag IS NOT f.tag)"""
        )
        for line, first, groups, name, tag in conflicts:
            fields = [n for n, differs in (("group_ids", groups), ("person_name", name), ("tag", tag)) if differs]
            verb = "differs" if len(fields) == 1 else "differ"
            yield RowProblem(line, f"{', '.join(fields)} {verb} from the person's first row (line {first})")

    def want(self, keys: Iterable[str]) -> None:
        """Remember item keys (--retry-failed's); `restrict` then limits the run to their persons."""
        self._db.execute("BEGIN")
        self._db.executemany("INSERT OR IGNORE INTO wanted VALUES (?)", ((k,) for k in keys))
        self._db.execute("COMMIT")

    def restrict(self) -> None:
        """From now on, only persons with a wanted item are counted and run."""
        self._filtered = True

    def counts(self) -> Counts:
        where = self._where()
        items = self._db.execute(f"SELECT count(*) FROM row r {where}").fetchone()[0]  # noqa: S608 - fixed text
        persons = self._db.execute(
            f"SELECT count(*) FROM (SELECT DISTINCT appid, bucket, person_id FROM row r {where})"  # noqa: S608
        ).fetchone()[0]
        return Counts(items=items, persons=persons)

    def persons(self) -> Iterator[Person]:
        """Every person's rows together, one index scan, never more than one person in memory."""
        cursor = self._db.execute(
            f"SELECT {_COLUMNS} FROM row r {self._where()} ORDER BY appid, bucket, person_id, line"  # noqa: S608
        )
        rows: list[ManifestRow] = []
        for values in cursor:
            row = _manifest_row(values)
            if rows and rows[0].person_key != row.person_key:
                yield Person(tuple(rows))
                rows = []
            rows.append(row)
        if rows:
            yield Person(tuple(rows))

    def _where(self) -> str:
        if not self._filtered:
            return ""
        return "WHERE (appid, bucket, person_id) IN (SELECT appid, bucket, person_id FROM row JOIN wanted USING (key))"


def _manifest_row(values: tuple[object, ...]) -> ManifestRow:
    line, appid, bucket, person_id, groups, name, tag, image, face_tag = values
    return ManifestRow(
        line=int(str(line)), appid=str(appid), bucket=str(bucket), person_id=str(person_id),
        group_ids=tuple(str(groups).split(GROUP_SEPARATOR)), person_name=_opt(name), tag=_opt(tag),
        image=str(image), face_tag=_opt(face_tag),
    )  # fmt: skip


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


def _lines(lines: list[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:10])
    return shown + (", …" if len(lines) > 10 else "")
