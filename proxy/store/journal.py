"""The write journal's records and protocol: one table for v3 write intents, the dual-write outbox, backfill progress.

An entry is a write that must reach a backend (or, for backfill, one manifest item's progress):

- kind "write": a v3 write the proxy is making for a request. Opened (pending, leased to the
  process making the call) before the call, completed (applied / failed) after it. A timeout or a
  dropped connection completes it as "unknown"; a crash leaves it pending with its lease run out.
  Either way a reconciler resolves it by reading v3 and brings the store to what v3 holds.
- kind "outbox": a write still owed to the other backend (v1 or v3) during a staged migration.
  Opened without a lease (due at once), replayed by a reconciler that takes it with `journal_due`,
  retried with backoff (`journal_complete(..., "pending", retry_at=…)`) until applied or failed.
- kind "backfill": one manifest item; its dedupe key is the item's key, so re-opening a done item
  returns the existing (applied) entry and a re-run skips it; the payload holds its progress.

Leases: an entry is worked by at most one owner at a time. `journal_open` may lease the new entry
to its opener; `journal_due` and `journal_claim` lease entries whose lease has run out (PostgreSQL:
SELECT … FOR UPDATE SKIP LOCKED; SQLite: one writer at a time). `journal_complete` ends the lease.

Blobs (images a replay needs) are kept apart from entries, by content hash (sha256 hex), never in
the JSON payload: an entry names its blobs; a blob is deleted once no open entry names it.
Times are seconds since the epoch (time.time()), passed in so reconcilers and tests control them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

JournalKind = Literal["write", "outbox", "backfill"]
JournalState = Literal["pending", "applied", "failed", "unknown"]
Backend = Literal["v3", "v1"]
KnownSource = Literal["proxy", "backfill", "confirmed"]

KINDS: tuple[JournalKind, ...] = ("write", "outbox", "backfill")
STATES: tuple[JournalState, ...] = ("pending", "applied", "failed", "unknown")
OPEN_STATES: tuple[JournalState, ...] = ("pending", "unknown")  # still to be worked or resolved
FINAL_STATES: tuple[JournalState, ...] = ("applied", "failed")
BACKENDS: tuple[Backend, ...] = ("v3", "v1")
KNOWN_SOURCES: tuple[KnownSource, ...] = ("proxy", "backfill", "confirmed")


@dataclass(frozen=True, slots=True)
class JournalIntent:
    """What to record before a write: everything needed to finish or resolve it later, without images."""

    kind: JournalKind
    namespace: str  # the tenant's store namespace
    op: str  # the v1 op (e.g. "newperson") or a reconciler's own op name
    person_id: str | None  # the v1 person id the write is about, if any
    face_ids: tuple[str, ...] = ()
    payload: Mapping[str, Any] = field(default_factory=dict)  # JSON-able v1 values the store must keep
    target: Backend = "v3"
    dedupe_key: str | None = None  # unique: opening with an existing key returns the existing entry
    blobs: Mapping[str, bytes] = field(default_factory=dict)  # sha256 hex -> bytes (outbox replays)


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One journal row as stored."""

    entry_id: int
    kind: JournalKind
    namespace: str
    op: str
    person_id: str | None
    face_ids: tuple[str, ...]
    payload: Mapping[str, Any]
    target: Backend
    state: JournalState
    attempts: int  # completions so far (each journal_complete counts one)
    next_attempt_at: float
    lease_until: float  # 0 when not leased
    lease_owner: str | None
    last_error: str | None
    dedupe_key: str | None
    blob_digests: tuple[str, ...]
    created_at: float
    updated_at: float

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


@dataclass(frozen=True, slots=True)
class Opened:
    """The result of journal_open: the entry, and whether this call created it (False: dedupe key existed)."""

    entry: JournalEntry
    created: bool


@dataclass(frozen=True, slots=True)
class Lease:
    """Who takes entries and for how long: a reconciler's (or request's) owner name and lease length."""

    owner: str
    seconds: float


@dataclass(frozen=True, slots=True)
class JournalStats:
    """Counts of one kind's entries by state, and the age of the oldest open one (None when none is open)."""

    kind: JournalKind
    counts: Mapping[JournalState, int]
    oldest_open_age_s: float | None


class Journal(Protocol):
    """The write journal and the v3-known subjects; every FaceStore implements it."""

    async def journal_open(self, intent: JournalIntent, *, now: float, lease: Lease | None = None) -> Opened:
        """Record an intent as a pending entry, due at `now`, leased to `lease` if given (so no reconciler
        takes it while its opener works it). Idempotent on a dedupe key: the existing entry comes back."""
        ...

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
        """Set an entry's state (one attempt more), end its lease, record `error`; `retry_at` sets when an
        open entry is next due; `payload` replaces the stored one (backfill progress). With `owner`, only
        if that owner still holds the lease. False when no such entry (or the lease was lost)."""
        ...

    async def journal_due(self, kind: JournalKind, *, now: float, limit: int, lease: Lease) -> Sequence[JournalEntry]:
        """Take up to `limit` open entries of `kind` that are due and not leased, oldest due first,
        leasing them to `lease.owner` for `lease.seconds`; concurrent callers never get the same entry."""
        ...

    async def journal_claim(self, entry_id: int, *, now: float, lease: Lease) -> JournalEntry | None:
        """Lease one open entry now if nobody holds it (the request path resolving its person's entries)."""
        ...

    async def journal_get(self, entry_id: int) -> JournalEntry | None: ...

    async def journal_find(self, dedupe_key: str) -> JournalEntry | None: ...

    async def journal_for_subject(
        self, namespace: str, person_id: str, *, open_only: bool = True, kind: JournalKind | None = None
    ) -> Sequence[JournalEntry]:
        """A person's entries (only the open ones by default; of one kind, or all), oldest first."""
        ...

    async def journal_stats(self, kind: JournalKind, *, now: float) -> JournalStats: ...

    async def journal_prune(self, kind: JournalKind, *, before: float) -> int:
        """Delete final (applied / failed) entries of `kind` last updated before `before`; how many."""
        ...

    async def journal_blob(self, digest: str) -> bytes | None:
        """A blob an open entry names, by its sha256 hex digest."""
        ...

    async def mark_known_in_v3(self, namespace: str, person_id: str, source: KnownSource, *, now: float) -> None:
        """Remember that v3 holds this person (written through the proxy, backfilled, or confirmed)."""
        ...

    async def forget_known_in_v3(self, namespace: str, person_id: str) -> None: ...

    async def is_known_in_v3(self, namespace: str, person_id: str) -> bool:
        """The cheap question data-aware reads ask: is this person known to exist in v3 for this tenant?"""
        ...
