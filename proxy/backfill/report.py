"""The JSON Lines report: one line per item (or manifest problem), written as it happens; read by --retry-failed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from proxy.backfill.enrol import FAILED, Outcome
from proxy.backfill.manifest import RowProblem


class ReportError(Exception):
    """A report given to --retry-failed that cannot be read."""


class Report:
    """Appends report lines to a file, flushed line by line so an interrupted run's report is whole."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] = path.open("wb")

    def outcome(self, outcome: Outcome) -> None:
        row = outcome.row
        self._write(
            {
                "line": row.line,
                "key": row.item_key,
                "op": outcome.op,
                "status": outcome.status,
                "appid": row.appid,
                "bucket": row.bucket,
                "person_id": row.person_id,
                "image": row.image,
                "face_id": outcome.face_id,
                "code": outcome.code,
                "message": outcome.message,
                "request_id": outcome.request_id,
                "retries": outcome.retries,
            }
        )

    def problem(self, problem: RowProblem) -> None:
        self._write({"line": problem.line, "status": "invalid", "code": problem.code, "message": problem.message})

    def _write(self, record: dict[str, Any]) -> None:
        self._file.write(orjson.dumps(record) + b"\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def failed_keys(path: Path) -> Iterator[str]:
    """The item keys a report lists as failed or blocked (what --retry-failed re-runs)."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ReportError(f"--retry-failed {path}: cannot read: {exc.strerror or exc}") from None
    with handle:
        for number, text in enumerate(handle, 1):
            if not text.strip():
                continue
            try:
                record = orjson.loads(text)
            except orjson.JSONDecodeError:
                raise ReportError(f"--retry-failed {path}: line {number} is not a report line") from None
            if not isinstance(record, dict):
                raise ReportError(f"--retry-failed {path}: line {number} is not a report line")
            if record.get("status") in FAILED and isinstance(record.get("key"), str):
                yield record["key"]
