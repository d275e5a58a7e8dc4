"""Each v3 write inside a journal entry: the intent recorded before the call, the outcome after it.

An outcome is "applied" once the handler says so (v3 did it and the store holds it), "failed" when
v3 refused with an error envelope before applying anything, and "unknown" otherwise (timeout,
dropped connection, malformed reply, v3 InternalError, the store failing after the call): those
are settled later by reading v3 (proxy.handlers.reconcile), once `settle_after_s` has passed so
that a call v3 was still finishing is seen. A process that dies mid-write leaves its entry pending
under a lease that runs out after `lease_s`; the sweeper then settles it the same way.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import structlog

from proxy.domain.codes import V1Error
from proxy.store.base import FaceStore
from proxy.store.journal import JournalIntent, JournalState, Lease
from proxy.translate.scope import Scope
from proxy.v3.errors import V3Error

log = structlog.get_logger(__name__)

OWNER = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
"""This process, as a lease owner (a restarted process is a new owner)."""


@dataclass(frozen=True, slots=True)
class JournalPolicy:
    """The `journal:` settings: when unknown outcomes settle, lease length, sweeper period, retention, retry cap."""

    settle_after_s: float = 20.0
    lease_s: float = 60.0
    sweep_interval_s: float = 5.0
    keep_done_s: float = 86400.0
    retry_max_s: float = 300.0


def outcome_unknown(exc: BaseException) -> bool:
    """Whether v3 may have applied a write that ended with `exc` (only a v3 error envelope says it did not)."""
    if isinstance(exc, V1Error):
        return False  # refused by the proxy itself
    if isinstance(exc, V3Error):
        # no reply, v3's own failure, or v3's backend timing out: any of them may have applied the write
        return exc.is_transport or exc.code.startswith("InternalError") or "Timeout" in exc.code
    return True


class WriteRecord:
    """The open entry of one write; the handler calls `applied()` once v3 did it and the store holds it,
    or `uncertain(exc)` when it answers the app although part of the write ended in an unknown outcome."""

    __slots__ = ("_applied", "entry_id", "payload", "uncertainty")

    def __init__(self, entry_id: int, payload: Mapping[str, Any]) -> None:
        self.entry_id = entry_id
        self.payload = payload
        self._applied = False
        self.uncertainty: BaseException | None = None

    def applied(self) -> None:
        self._applied = True

    def uncertain(self, exc: BaseException) -> None:
        self.uncertainty = exc

    @property
    def is_applied(self) -> bool:
        return self._applied


@asynccontextmanager
async def journaled(
    store: FaceStore,
    policy: JournalPolicy,
    scope: Scope,
    op: str,
    person_id: str,
    v3_person: str,
    payload: Mapping[str, Any],
    face_ids: tuple[str, ...] = (),
) -> AsyncIterator[WriteRecord]:
    """Open a write entry (leased to this process), run the body, complete the entry by how it ended."""
    now = time.time()
    body = {**payload, "v3_person": v3_person, "writer_key": scope.writer_key(v3_person)}
    opened = await store.journal_open(
        JournalIntent("write", scope.store_key, op, person_id, face_ids, body),
        now=now,
        lease=Lease(OWNER, policy.lease_s),
    )
    record = WriteRecord(opened.entry.entry_id, body)
    try:
        yield record
    except BaseException as exc:
        if record.is_applied:
            state: JournalState = "applied"
        elif outcome_unknown(exc):
            state = "unknown"
        else:
            state = "failed"
        retry_at = time.time() + policy.settle_after_s if state == "unknown" else None
        await _complete(store, record, state, error=_describe(exc), retry_at=retry_at)
        raise
    if record.uncertainty is not None:
        retry_at = time.time() + policy.settle_after_s
        await _complete(store, record, "unknown", error=_describe(record.uncertainty), retry_at=retry_at)
        return
    await _complete(store, record, "applied", payload={**body, "answered": True})


async def _complete(
    store: FaceStore,
    record: WriteRecord,
    state: JournalState,
    *,
    error: str | None = None,
    retry_at: float | None = None,
    payload: Mapping[str, Any] | None = None,
) -> None:
    try:
        await store.journal_complete(
            record.entry_id, state, now=time.time(), error=error, retry_at=retry_at, payload=payload, owner=OWNER
        )
    except Exception as exc:  # the entry stays pending under our lease: the sweeper settles it after lease_s
        log.warning("journal_complete_failed", entry_id=record.entry_id, state=state, error=type(exc).__name__)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, V3Error):
        return f"{exc.action}: {exc.code}"
    if isinstance(exc, V1Error):
        return f"v1 {exc.code}"
    return type(exc).__name__
