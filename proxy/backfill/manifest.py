"""Reading a backfill manifest (CSV or JSON Lines, by extension) row by row, never all at once."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

COLUMNS = ("appid", "bucket", "person_id", "group_ids", "person_name", "tag", "image", "face_tag")
REQUIRED_COLUMNS = ("appid", "person_id", "group_ids", "image")
GROUP_SEPARATOR = ";"
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


class ManifestError(Exception):
    """The manifest as a whole cannot be read (unknown extension, missing columns, unreadable file)."""


@dataclass(frozen=True, slots=True)
class ManifestRow:
    """One face of one person, as the manifest gives it (texts verbatim; "" bucket means none)."""

    line: int
    appid: str
    bucket: str
    person_id: str
    group_ids: tuple[str, ...]
    person_name: str | None
    tag: str | None
    image: str  # a local path (relative to the manifest's directory) or an http(s) URL
    face_tag: str | None

    @property
    def person_key(self) -> tuple[str, str, str]:
        return (self.appid, self.bucket, self.person_id)

    @property
    def item_key(self) -> str:
        """Identifies the item across runs, whatever its line: tenant, person and image."""
        raw = "\x00".join((self.appid, self.bucket, self.person_id, self.image)).encode()
        return hashlib.sha256(raw).hexdigest()[:32]

    @property
    def is_url(self) -> bool:
        return self.image.startswith(("http://", "https://"))


@dataclass(frozen=True, slots=True)
class RowProblem:
    """Something wrong with one line of the manifest."""

    line: int
    message: str
    code: int | None = None  # the v1 code the live path answers for it, when there is one

    def __str__(self) -> str:
        code = f" [{self.code}]" if self.code is not None else ""
        return f"line {self.line}:{code} {self.message}"


def manifest_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ManifestError(f"{path}: unknown manifest extension {path.suffix!r}; use .csv or .jsonl")
    return fmt


def read_manifest(path: Path) -> Iterator[ManifestRow | RowProblem]:
    """Every row of the manifest in order, or a problem for a row that cannot even be read."""
    fmt = manifest_format(path)
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with handle:
        yield from (_csv_rows(handle) if fmt == "csv" else _jsonl_rows(handle))


def _csv_rows(handle: Any) -> Iterator[ManifestRow | RowProblem]:
    reader = csv.reader(handle)
    try:
        header = next(reader)
    except StopIteration:
        raise ManifestError("the manifest is empty: a CSV manifest starts with a header row") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise ManifestError(f"line 1: unreadable header: {exc}") from None
    names = [h.strip() for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise ManifestError(f"line 1: the header lacks column(s) {', '.join(missing)}; columns: {', '.join(COLUMNS)}")
    unknown = [n for n in names if n not in COLUMNS]
    if unknown:
        raise ManifestError(f"line 1: unknown column(s) {', '.join(unknown)}; columns: {', '.join(COLUMNS)}")
    start = reader.line_num + 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError) as exc:
            yield RowProblem(start, f"unreadable CSV row: {exc}")
            start = reader.line_num + 1
            continue
        line, start = start, reader.line_num + 1
        if not values or values == [""]:
            continue
        if len(values) != len(names):
            yield RowProblem(line, f"{len(values)} fields where the header has {len(names)}")
            continue
        yield _row(line, dict(zip(names, values, strict=True)))


def _jsonl_rows(handle: Any) -> Iterator[ManifestRow | RowProblem]:
    line = 0
    while True:
        try:
            text = handle.readline()
        except UnicodeDecodeError as exc:
            yield RowProblem(line + 1, f"not UTF-8: {exc.reason}")
            return
        if not text:
            return
        line += 1
        if not text.strip():
            continue
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            yield RowProblem(line, f"not a JSON object: {exc}")
            continue
        if not isinstance(data, dict):
            yield RowProblem(line, f"not a JSON object: a {type(data).__name__}")
            continue
        unknown = [k for k in data if k not in COLUMNS]
        if unknown:
            yield RowProblem(line, f"unknown field(s) {', '.join(map(str, unknown))}; fields: {', '.join(COLUMNS)}")
            continue
        try:
            yield _row(line, {k: _text(k, v) for k, v in data.items() if v is not None})
        except ValueError as exc:
            yield RowProblem(line, str(exc))


def _text(name: str, value: Any) -> str:
    """A JSON value as manifest text: strings as they are, integers as decimals, a group_ids list joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if name == "group_ids" and isinstance(value, list) and all(isinstance(v, str | int) for v in value):
        return GROUP_SEPARATOR.join(str(v) for v in value)
    raise ValueError(f"field {name!r} must be a string, got {type(value).__name__}")


def _row(line: int, fields: Mapping[str, str]) -> ManifestRow:
    groups = fields.get("group_ids", "")
    return ManifestRow(
        line=line,
        appid=fields.get("appid", "").strip(),
        bucket=fields.get("bucket", "").strip(),
        person_id=fields.get("person_id", ""),
        group_ids=tuple(groups.split(GROUP_SEPARATOR)) if groups else (),
        person_name=fields.get("person_name") or None,
        tag=fields.get("tag") or None,
        image=fields.get("image", "").strip(),
        face_tag=fields.get("face_tag") or None,
    )
