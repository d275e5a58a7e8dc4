"""Rows <-> records for every backend: column lists and the JSON encodings of journal fields."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

from proxy.domain.faces import ATTRIBUTE_NAMES, FaceAttributes
from proxy.store.base import FaceRecord
from proxy.store.journal import (
    BACKENDS,
    KINDS,
    STATES,
    Backend,
    JournalEntry,
    JournalKind,
    JournalState,
)

# only constant column names are spliced into SQL; every value is bound
_FACE_COLUMN_NAMES = ("namespace", "face_id", "person_id", "tag", *ATTRIBUTE_NAMES)
FACE_COLUMNS = ", ".join(_FACE_COLUMN_NAMES)
FACE_COLUMN_COUNT = len(_FACE_COLUMN_NAMES)
JOURNAL_COLUMNS = (
    "entry_id, kind, namespace, op, person_id, face_ids, payload, target, state, attempts, next_attempt_at, "
    "lease_until, lease_owner, last_error, dedupe_key, blob_digests, created_at, updated_at"
)


def face_values(r: FaceRecord) -> tuple[Any, ...]:
    """A face record's column values, in FACE_COLUMNS order (glass stays a bool: each backend adapts it)."""
    a = r.attributes
    return (r.namespace, r.face_id, r.person_id, r.tag, *(getattr(a, name) for name in ATTRIBUTE_NAMES))


def face_record(row: Sequence[Any]) -> FaceRecord:
    """A FaceRecord from a row in FACE_COLUMNS order."""
    # SQLite gives REAL columns back as float and the glass flag as 0/1: the dataclass types restore them
    values = dict(zip(ATTRIBUTE_NAMES, row[4:], strict=True))
    values["width"], values["height"], values["glass"] = (
        float(values["width"]), float(values["height"]), bool(values["glass"])
    )  # fmt: skip
    return FaceRecord(
        namespace=row[0], face_id=row[1], person_id=row[2], tag=row[3], attributes=FaceAttributes(**values)
    )


def to_json(value: object) -> str:
    """Compact, ASCII-only JSON (lone surrogates and NULs escaped, so any backend's text column keeps it)."""
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"), sort_keys=True)


def digest_of(data: bytes) -> str:
    """The content hash a blob is kept under: sha256, hex."""
    return hashlib.sha256(data).hexdigest()


def check_blobs(blobs: Mapping[str, bytes]) -> None:
    for digest, data in blobs.items():
        if digest_of(data) != digest:
            raise ValueError(f"blob {digest[:16]}… is not named by its sha256")


def journal_entry(row: Sequence[Any]) -> JournalEntry:
    """A JournalEntry from a row in JOURNAL_COLUMNS order."""
    kind, target, state = row[1], row[7], row[8]
    if kind not in KINDS or target not in BACKENDS or state not in STATES:
        raise ValueError(f"journal entry {row[0]} has kind/target/state {kind!r}/{target!r}/{state!r}")
    return JournalEntry(
        entry_id=int(row[0]),
        kind=cast(JournalKind, kind),
        namespace=row[2],
        op=row[3],
        person_id=row[4],
        face_ids=tuple(json.loads(row[5])),
        payload=json.loads(row[6]),
        target=cast(Backend, target),
        state=cast(JournalState, state),
        attempts=int(row[9]),
        next_attempt_at=float(row[10]),
        lease_until=float(row[11]),
        lease_owner=row[12],
        last_error=row[13],
        dedupe_key=row[14],
        blob_digests=tuple(json.loads(row[15])),
        created_at=float(row[16]),
        updated_at=float(row[17]),
    )
